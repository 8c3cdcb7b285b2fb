// Hello world on node:http; prints "listening <url>" once it accepts connections.
import http from 'node:http';

const server = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('hello');
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}/hello`);
});
