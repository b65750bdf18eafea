'use strict';
// A GraphQL service that caches parsed and validated documents by their raw query text,
// while its clients inline arguments into the text (leaks).
//
// Parsing and validating a query costs more than running it, so the service keeps each
// parsed document in a Map keyed by the query's source text, as persisted-query and
// document caches do. That works while the set of query texts is fixed. Its clients,
// though, write the id into the query (`{ user(id: "42") { … } }`) instead of passing it
// as a variable, so every request is a new text: a new entry, holding the whole parsed
// document (graphql-js AST nodes and their locations) under its text, for ever.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// graphql-queries-clean.js passes the ids as variables to a fixed set of queries.

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

// BUG: keyed by the raw text, which carries each request's id.
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

async function step(i) {
  const document = documentFor(`{ user(id: "${i}") { id name email team { name } } }`);
  const result = await execute({ schema, document, rootValue });
  await sleep(1); // the response is written out
  return result.data.user.id;
}

module.exports = { step };
