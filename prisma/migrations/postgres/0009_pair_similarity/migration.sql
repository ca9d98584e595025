-- CreateTable
CREATE TABLE "PairSimilarity" (
    "key" TEXT NOT NULL,
    "artifactAId" TEXT NOT NULL,
    "artifactBId" TEXT NOT NULL,
    "ancestorArtifactId" TEXT,
    "cosine" DOUBLE PRECISION,
    "ancestorCosine" DOUBLE PRECISION,
    "groups" JSONB NOT NULL,
    "tensorCount" INTEGER NOT NULL,
    "elements" BIGINT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PairSimilarity_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "PairSimilarity_artifactAId_idx" ON "PairSimilarity"("artifactAId");

-- CreateIndex
CREATE INDEX "PairSimilarity_artifactBId_idx" ON "PairSimilarity"("artifactBId");

-- CreateIndex
CREATE INDEX "PairSimilarity_ancestorArtifactId_idx" ON "PairSimilarity"("ancestorArtifactId");

-- AddForeignKey
ALTER TABLE "PairSimilarity" ADD CONSTRAINT "PairSimilarity_artifactAId_fkey" FOREIGN KEY ("artifactAId") REFERENCES "Artifact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PairSimilarity" ADD CONSTRAINT "PairSimilarity_artifactBId_fkey" FOREIGN KEY ("artifactBId") REFERENCES "Artifact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PairSimilarity" ADD CONSTRAINT "PairSimilarity_ancestorArtifactId_fkey" FOREIGN KEY ("ancestorArtifactId") REFERENCES "Artifact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

