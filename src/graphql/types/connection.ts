// Relay-style connections: one generic shape, named per node type.
import { type ClassType, Field, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

/** Edge and Connection types for a node; `totalCount` resolves lazily, only when asked for. */
export function connectionOf<T extends object>(name: string, node: ClassType<T>, withTotalCount: boolean) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class Connection implements ConnectionShape<T> {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    totalCount?: number | Promise<number>;
  }
  // Declared apart so that only the connections the contract counts get the field.
  if (withTotalCount) Field(() => Int)(Connection.prototype, 'totalCount');
  return Connection;
}
