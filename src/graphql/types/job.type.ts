import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { JOB_KINDS, JOB_STATUSES } from "../../jobs/jobTypes";
import { PageInfo } from "./pageInfo.type";

export const JobKind = Object.fromEntries(JOB_KINDS.map((k) => [k, k])) as { [K in (typeof JOB_KINDS)[number]]: K };
export const JobStatus = Object.fromEntries(JOB_STATUSES.map((k) => [k, k])) as { [K in (typeof JOB_STATUSES)[number]]: K };
registerEnumType(JobKind, { name: "JobKind" });
registerEnumType(JobStatus, { name: "JobStatus", description: "QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED." });

@ObjectType({ description: "Long work (merges, evaluations) runs as a job; poll job(id) or subscribe to jobUpdated(id)." })
export class Job {
  @Field(() => ID) id!: string;
  @Field(() => JobKind) kind!: string;
  @Field(() => JobStatus) status!: string;
  @Field(() => Float, { description: "0..1" }) progress!: number;
  @Field(() => String, { nullable: true }) message!: string | null;
  @Field(() => String, { nullable: true, description: "Why it failed, in words." }) error!: string | null;
  @Field(() => String, { nullable: true, description: "BAD_USER_INPUT for bad input (not retried), INTERNAL otherwise." }) errorCode!: string | null;
  @Field(() => Int) attempts!: number;
  @Field(() => String, { nullable: true, description: "The process that ran it last: host:pid of a `layermerge worker`, or scope:pid of an API process's embedded runner." }) worker!: string | null;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) startedAt!: Date | null;
  @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
  result!: unknown;
}

@ObjectType()
export class JobEdge {
  @Field() cursor!: string;
  @Field(() => Job) node!: Job;
}

@ObjectType()
export class JobConnection {
  @Field(() => [JobEdge]) edges!: JobEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType({ description: "A job's state as it changes (jobUpdated subscription)." })
export class JobUpdate {
  @Field(() => ID) id!: string;
  @Field(() => JobKind) kind!: string;
  @Field(() => JobStatus) status!: string;
  @Field(() => Float) progress!: number;
  @Field(() => String, { nullable: true }) message!: string | null;
  @Field(() => String, { nullable: true }) error!: string | null;
}
