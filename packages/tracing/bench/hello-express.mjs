// A one-route Express app; prints "listening <url>" once it accepts connections.
import express from 'express';

const app = express();
app.get('/users/:id', (req, res) => {
  res.send(`hello ${req.params.id}`);
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}/users/42`);
});
