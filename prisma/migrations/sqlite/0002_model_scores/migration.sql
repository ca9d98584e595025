-- AlterTable
ALTER TABLE "Evaluation" ADD COLUMN "settings" JSONB;

-- CreateTable
CREATE TABLE "ModelScore" (
    "modelId" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "score" REAL NOT NULL,
    "evaluationId" TEXT NOT NULL,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("modelId", "datasetId"),
    CONSTRAINT "ModelScore_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "ModelScore_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "ModelScore_evaluationId_fkey" FOREIGN KEY ("evaluationId") REFERENCES "Evaluation" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "ModelScore_datasetId_score_idx" ON "ModelScore"("datasetId", "score");

