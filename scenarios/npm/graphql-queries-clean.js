'use strict';
// A GraphQL service that caches parsed and validated documents by their query text, with
// clients that pass arguments as variables (clean).
//
// The same service as graphql-document-cache-per-query.js. Its clients send one of three
// fixed query texts with the ids as variables, so the document cache holds three entries
// after the first requests, and every later request only executes. The heap is flat once
// graphql-js and the JIT have warmed up.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const { parse, validate, execute, buildSchema } = require('graphql');
const { setTimeout: sleep } = require('timers/promises');

const schema = buildSchema(`
  type User { id: ID! name: String! email: String! team: Team }
  type Team { id: ID! name: String! }
  type Query { user(id: ID!): User }
`);
const rootValue = {
  user: ({ id }) => ({ id, name: `User ${id}`, email: `u${id}@example.com`, team: { id: `t${id % 40}`, name: `Team ${id % 40}` } }),
};

const documentCache = new Map();

function documentFor(source) {
  let document = documentCache.get(source);
  if (!document) {
    document = parse(source);
    const errors = validate(schema, document);
    if (errors.length > 0) throw errors[0];
    documentCache.set(source, document);
  }
  return document;
}

const QUERIES = [
  'query User($id: ID!) { user(id: $id) { id name email team { name } } }',
  'query UserName($id: ID!) { user(id: $id) { name } }',
  'query UserTeam($id: ID!) { user(id: $id) { id team { id name } } }',
];

async function step(i) {
  const document = documentFor(QUERIES[i % QUERIES.length]);
  const result = await execute({ schema, document, rootValue, variableValues: { id: String(i) } });
  await sleep(1); // the response is written out
  return result.data.user ? 1 : 0;
}

module.exports = { step };
