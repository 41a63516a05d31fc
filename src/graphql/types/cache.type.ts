import { Field, ObjectType } from 'type-graphql';
import { DateTimeScalar, JSONScalar } from './scalars';

@ObjectType()
export class CacheEntry {
  @Field()
  key!: string;

  @Field(() => JSONScalar)
  value!: unknown;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => DateTimeScalar)
  updatedAt!: Date;
}
