import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description: 'Task results counted into a score in [0, 1]: (succeeded + 0.5 * partial) / total; 1 when total is 0.',
})
export class QualitySummary {
  @Field(() => Float)
  score!: number;

  @Field(() => Int)
  total!: number;

  @Field(() => Int)
  succeeded!: number;

  @Field(() => Int)
  partial!: number;

  @Field(() => Int)
  failed!: number;
}
