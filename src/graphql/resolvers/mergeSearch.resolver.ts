import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../context";
import { Job } from "../types/job.type";
import { Role } from "../types/enums";
import { Merge } from "../types/merge.type";
import { MergeSearch, MergeSearchCandidate, MergeSearchCandidateConnection, MergeSearchCandidateOrder, MergeSearchConnection, MergeSearchInput } from "../types/mergeSearch.type";

interface SearchResult {
  bestKey: string | null;
  bestSingleKey: string | null;
  pickIsSingle: boolean;
  spearman: number | null;
  pickConfidence: number | null;
  marginVsBestSingle: number | null;
  message: string;
  kept: { jobIds: string[]; note: string };
}
const result = (s: MergeSearch) => (s.result ?? null) as SearchResult | null;

@Resolver(() => MergeSearch)
export class MergeSearchResolver {
  @Authorized(Role.WRITER)
  @Mutation(() => Job, { description: "Plans the candidates (shown on the job's message and the search), then scores them in a MERGE_SEARCH job; nothing is registered but what keep asks for." })
  startMergeSearch(@Arg("input") input: MergeSearchInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.searches.start(input);
  }

  @Query(() => MergeSearch, { nullable: true })
  mergeSearch(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.searches.get(id);
  }

  @Query(() => MergeSearchConnection, { description: "Newest first." })
  mergeSearches(@Ctx() ctx: GraphQLContext, @Arg("first", () => Int, { nullable: true }) first?: number, @Arg("after", () => String, { nullable: true }) after?: string) {
    return ctx.services.searches.list({ first, after });
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Boolean, { description: "Removes the search and its candidate rows; models it kept stay." })
  deleteMergeSearch(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.searches.delete(id);
  }

  @FieldResolver(() => Job, { nullable: true })
  job(@Root() s: MergeSearch, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.job.load(s.jobId);
  }

  @FieldResolver(() => MergeSearchCandidateConnection)
  candidates(
    @Root() s: MergeSearch,
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
    @Arg("orderBy", () => MergeSearchCandidateOrder, { nullable: true, description: "Default OBJECTIVE (best first)." }) orderBy?: "OBJECTIVE" | "AUDIT",
  ) {
    return ctx.services.searches.candidates(s.id, { first, after, orderBy });
  }

  @FieldResolver(() => MergeSearchCandidate, { nullable: true, description: "The pick: the highest objective (the first in plan order among equals)." })
  best(@Root() s: MergeSearch, @Ctx() ctx: GraphQLContext) {
    const key = result(s)?.bestKey;
    return key ? ctx.services.searches.candidateByKey(s.id, key) : null;
  }

  @FieldResolver(() => MergeSearchCandidate, { nullable: true })
  bestSingle(@Root() s: MergeSearch, @Ctx() ctx: GraphQLContext) {
    const key = result(s)?.bestSingleKey;
    return key ? ctx.services.searches.candidateByKey(s.id, key) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: "The pick is a pool model alone: keep it, do not merge." })
  pickIsSingle(@Root() s: MergeSearch) {
    return result(s)?.pickIsSingle ?? null;
  }

  @FieldResolver(() => Float, { nullable: true, description: "Spearman ρ (average ranks) between objective and audit; null without an audit or under 3 candidates." })
  spearman(@Root() s: MergeSearch) {
    return result(s)?.spearman ?? null;
  }

  @FieldResolver(() => Float, { nullable: true, description: "Share of 1,000 seeded image-bootstrap resamples in which the pick stays first." })
  pickConfidence(@Root() s: MergeSearch) {
    return result(s)?.pickConfidence ?? null;
  }

  @FieldResolver(() => Float, { nullable: true, description: "The pick's objective minus the best single model's (0 when the pick is one)." })
  marginVsBestSingle(@Root() s: MergeSearch) {
    return result(s)?.marginVsBestSingle ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: "The outcome in words: which candidate to keep, and what keep wrote." })
  summary(@Root() s: MergeSearch) {
    const r = result(s);
    return r ? `${r.message}. ${r.kept.note}` : null;
  }

  @FieldResolver(() => [Job], { description: "The MERGE jobs that keep queued." })
  keptJobs(@Root() s: MergeSearch, @Ctx() ctx: GraphQLContext) {
    return Promise.all((result(s)?.kept.jobIds ?? []).map((id) => ctx.loaders.job.load(id)));
  }
}


@Resolver(() => Job)
export class JobMergeSearchResolver {
  @FieldResolver(() => MergeSearch, { nullable: true })
  mergeSearch(@Root() job: Job, @Ctx() ctx: GraphQLContext) {
    return job.kind === "MERGE_SEARCH" ? ctx.services.searches.byJob(job.id) : null;
  }
}

@Resolver(() => Merge)
export class MergeSearchLinkResolver {
  @FieldResolver(() => MergeSearch, { nullable: true, description: "The merge search that kept this merge." })
  search(@Root() merge: Merge & { searchId?: string | null }, @Ctx() ctx: GraphQLContext) {
    return merge.searchId ? ctx.services.searches.get(merge.searchId) : null;
  }
}
