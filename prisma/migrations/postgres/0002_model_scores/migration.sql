-- AlterTable
ALTER TABLE "Evaluation" ADD COLUMN     "settings" JSONB;

-- CreateTable
CREATE TABLE "ModelScore" (
    "modelId" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "evaluationId" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ModelScore_pkey" PRIMARY KEY ("modelId","datasetId")
);

-- CreateIndex
CREATE INDEX "ModelScore_datasetId_score_idx" ON "ModelScore"("datasetId", "score");

-- AddForeignKey
ALTER TABLE "ModelScore" ADD CONSTRAINT "ModelScore_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelScore" ADD CONSTRAINT "ModelScore_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelScore" ADD CONSTRAINT "ModelScore_evaluationId_fkey" FOREIGN KEY ("evaluationId") REFERENCES "Evaluation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

