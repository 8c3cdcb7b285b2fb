// The lowest supported majors, installed under aliases (express4, koa2): typed as the current ones,
// which is what the adapters compile against.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
