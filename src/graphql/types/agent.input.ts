import { ArrayMaxSize, ArrayNotEmpty, IsOptional, Matches, Max, MaxLength, Min } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import { AGENT_LIMITS } from '../../domain/agent';
import { AgentStatus } from './enums';
import { JSONScalar } from './scalars';

const NOT_BLANK = /\S/;

@InputType()
export class RegisterAgentInput {
  @Field()
  @Matches(NOT_BLANK, { message: 'name must not be empty' })
  @MaxLength(AGENT_LIMITS.nameMax)
  name!: string;

  @Field(() => [String])
  @ArrayNotEmpty({ message: 'capabilities must name at least one capability' })
  @ArrayMaxSize(AGENT_LIMITS.capabilitiesMax)
  @Matches(NOT_BLANK, { each: true, message: 'capabilities must not be empty strings' })
  @MaxLength(AGENT_LIMITS.capabilityMax, { each: true })
  capabilities!: string[];

  @Field(() => Int, { nullable: true, defaultValue: 1 })
  @IsOptional()
  @Min(1)
  @Max(AGENT_LIMITS.concurrencyMax)
  concurrency?: number | null;

  @Field(() => JSONScalar, { nullable: true })
  metadata?: unknown;

  @Field(() => String, {
    nullable: true,
    description: 'The token a previous registration of this name returned: re-attaches to that agent.',
  })
  token?: string | null;
}

@InputType()
export class AgentFilter {
  @Field(() => String, { nullable: true })
  capability?: string | null;

  @Field(() => [AgentStatus], { nullable: true })
  statuses?: AgentStatus[] | null;
}
