import DataLoader from "dataloader";
import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../context";
import { Model } from "../types/model.type";
import { MergeCandidate } from "../types/structure.type";
import { CandidateSimilarity } from "../types/similarity.type";
import type { Candidate } from "../../services/candidateService";
import type { CandidateSimilarity as StoredSimilarity, SimilarityService } from "../../services/similarityService";
import type { Loaders } from "../../services/loaders";

type Key = { anchorId: string; candidate: Candidate };

/** One lookup per anchor for a page of candidates, per request. */
const loaders = new WeakMap<Loaders, DataLoader<Key, StoredSimilarity | null, string>>();

function similarityLoader(ctx: GraphQLContext): DataLoader<Key, StoredSimilarity | null, string> {
  let loader = loaders.get(ctx.loaders);
  if (!loader) {
    const service: SimilarityService = ctx.services.similarity;
    loader = new DataLoader<Key, StoredSimilarity | null, string>(
      async (keys) => {
        const byAnchor = new Map<string, Key[]>();
        for (const k of keys) byAnchor.set(k.anchorId, [...(byAnchor.get(k.anchorId) ?? []), k]);
        const found = new Map<string, StoredSimilarity | null>();
        for (const [anchorId, group] of byAnchor) {
          const anchor = await ctx.loaders.model.load(anchorId);
          if (!anchor) continue;
          const result = await service.lookup(anchor, group.map((k) => ({ id: k.candidate.modelId, structureId: k.candidate.model?.structureId ?? null, artifactId: k.candidate.model?.artifactId ?? null, matching: k.candidate.matching })));
          for (const [id, s] of result) found.set(`${anchorId}|${id}`, s);
        }
        return keys.map((k) => found.get(`${k.anchorId}|${k.candidate.modelId}`) ?? null);
      },
      { cacheKeyFn: (k) => `${k.anchorId}|${k.candidate.modelId}` },
    );
    loaders.set(ctx.loaders, loader);
  }
  return loader;
}

function present(s: StoredSimilarity | null) {
  if (!s) return null;
  return {
    cosine: s.cosine,
    ancestorId: s.ancestorId,
    ancestorDeltaCosine: s.ancestorCosine,
    groups: s.groups.map((g) => ({ prefix: g.prefix, tensorCount: g.tensors, parameterCount: g.elements, cosine: g.cosine, ancestorDeltaCosine: g.ancestorCosine })),
    comparedTensorCount: s.tensorCount,
    comparedParameterCount: s.elements,
    computedAt: s.computedAt,
  };
}

@Resolver(() => MergeCandidate)
export class MergeCandidateSimilarityResolver {
  @FieldResolver(() => CandidateSimilarity, {
    nullable: true,
    description:
      "Cosine similarity of the two models' shared tensors (and of their differences from their nearest common ancestor with weights), per group and over all. Null while it is being computed: the first request for a pair queues it in the background; ask again. Also null when the two share no parameter.",
  })
  async similarity(@Root() candidate: Candidate, @Ctx() ctx: GraphQLContext) {
    if (candidate.similarity !== undefined) return present(candidate.similarity);
    return present(await similarityLoader(ctx).load({ anchorId: candidate.anchorId, candidate }));
  }
}

@Resolver(() => CandidateSimilarity)
export class CandidateSimilarityResolver {
  @FieldResolver(() => Model, { nullable: true, description: "The ancestor the deltas were taken from." })
  ancestor(@Root() similarity: CandidateSimilarity, @Ctx() ctx: GraphQLContext) {
    return similarity.ancestorId ? ctx.loaders.model.load(similarity.ancestorId) : null;
  }
}
