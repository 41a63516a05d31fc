// The contract's scalars: DateTime and JSON from graphql-scalars.
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';

export { GraphQLDateTime as DateTimeScalar, GraphQLJSON as JSONScalar };
