// A one-route Fastify app; prints "listening <url>" once it accepts connections.
import Fastify from 'fastify';

const app = Fastify();
app.get('/users/:id', async (request) => `hello ${request.params.id}`);
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening http://127.0.0.1:${app.server.address().port}/users/42`);
