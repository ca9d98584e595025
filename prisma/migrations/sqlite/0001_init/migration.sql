-- CreateTable
CREATE TABLE "Task" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "primaryMetric" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "taskId" TEXT NOT NULL,
    "domain" TEXT,
    "split" TEXT NOT NULL DEFAULT 'val',
    "format" TEXT NOT NULL,
    "location" TEXT NOT NULL,
    "ignoreIndex" INTEGER NOT NULL DEFAULT 255,
    "classes" JSONB NOT NULL,
    "imageCount" INTEGER,
    "sizeBytes" BIGINT,
    "checksum" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Dataset_taskId_fkey" FOREIGN KEY ("taskId") REFERENCES "Task" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Backbone" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "family" TEXT,
    "parameterPrefix" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Model" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL DEFAULT '1',
    "description" TEXT,
    "taskId" TEXT NOT NULL,
    "architecture" TEXT,
    "backboneId" TEXT,
    "sourceDatasetId" TEXT,
    "targetDatasetId" TEXT,
    "udaStrategy" TEXT,
    "origin" TEXT NOT NULL DEFAULT 'TRAINED',
    "inference" JSONB,
    "artifactId" TEXT,
    "structureId" TEXT,
    "deletedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Model_taskId_fkey" FOREIGN KEY ("taskId") REFERENCES "Task" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Model_backboneId_fkey" FOREIGN KEY ("backboneId") REFERENCES "Backbone" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Model_sourceDatasetId_fkey" FOREIGN KEY ("sourceDatasetId") REFERENCES "Dataset" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Model_targetDatasetId_fkey" FOREIGN KEY ("targetDatasetId") REFERENCES "Dataset" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Model_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "Artifact" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Model_structureId_fkey" FOREIGN KEY ("structureId") REFERENCES "Structure" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ModelTag" (
    "modelId" TEXT NOT NULL,
    "tag" TEXT NOT NULL,

    PRIMARY KEY ("modelId", "tag"),
    CONSTRAINT "ModelTag_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Artifact" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sha256" TEXT NOT NULL,
    "sizeBytes" BIGINT NOT NULL,
    "format" TEXT NOT NULL,
    "storageKey" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Structure" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "hash" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "tensorCount" INTEGER NOT NULL,
    "parameterCount" BIGINT NOT NULL,
    "parameterCountByDtype" JSONB NOT NULL,
    "layerCount" INTEGER NOT NULL,
    "layerOrderSource" TEXT NOT NULL,
    "generatedNameCount" INTEGER NOT NULL DEFAULT 0,
    "groups" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "StructureTensor" (
    "structureId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "shape" TEXT NOT NULL,
    "dtype" TEXT NOT NULL,
    "elements" BIGINT NOT NULL,
    "layerIndex" INTEGER NOT NULL,
    "group" TEXT NOT NULL,
    "mergeable" BOOLEAN NOT NULL,

    PRIMARY KEY ("structureId", "position"),
    CONSTRAINT "StructureTensor_structureId_fkey" FOREIGN KEY ("structureId") REFERENCES "Structure" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "StructureOverlap" (
    "structureAId" TEXT NOT NULL,
    "structureBId" TEXT NOT NULL,
    "sharedTensorCount" INTEGER NOT NULL,
    "sharedParameterCount" BIGINT NOT NULL,
    "fractionOfA" REAL NOT NULL,
    "fractionOfB" REAL NOT NULL,
    "groups" JSONB NOT NULL,
    "mismatches" JSONB NOT NULL,

    PRIMARY KEY ("structureAId", "structureBId"),
    CONSTRAINT "StructureOverlap_structureAId_fkey" FOREIGN KEY ("structureAId") REFERENCES "Structure" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "StructureOverlap_structureBId_fkey" FOREIGN KEY ("structureBId") REFERENCES "Structure" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "LineageEdge" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "parentId" TEXT NOT NULL,
    "childId" TEXT NOT NULL,
    "relation" TEXT NOT NULL,
    "weight" REAL,
    "mergeId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "LineageEdge_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "LineageEdge_childId_fkey" FOREIGN KEY ("childId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "LineageEdge_mergeId_fkey" FOREIGN KEY ("mergeId") REFERENCES "Merge" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Merge" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "method" TEXT NOT NULL,
    "schedule" JSONB NOT NULL,
    "params" JSONB NOT NULL,
    "recipeHash" TEXT NOT NULL,
    "anchorId" TEXT NOT NULL,
    "baseModelId" TEXT,
    "outputModelId" TEXT,
    "jobId" TEXT,
    "layers" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Merge_anchorId_fkey" FOREIGN KEY ("anchorId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Merge_outputModelId_fkey" FOREIGN KEY ("outputModelId") REFERENCES "Model" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "MergeInput" (
    "mergeId" TEXT NOT NULL,
    "modelId" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "relativeWeight" REAL,
    "meanWeight" REAL,

    PRIMARY KEY ("mergeId", "modelId"),
    CONSTRAINT "MergeInput_mergeId_fkey" FOREIGN KEY ("mergeId") REFERENCES "Merge" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "MergeInput_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Evaluation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "modelId" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "settingsHash" TEXT NOT NULL,
    "canonical" BOOLEAN NOT NULL DEFAULT false,
    "score" REAL,
    "metrics" JSONB NOT NULL,
    "perClass" JSONB NOT NULL,
    "images" INTEGER NOT NULL DEFAULT 0,
    "durationMs" INTEGER NOT NULL DEFAULT 0,
    "external" BOOLEAN NOT NULL DEFAULT false,
    "source" TEXT,
    "jobId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Evaluation_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Evaluation_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "progress" REAL NOT NULL DEFAULT 0,
    "message" TEXT,
    "error" TEXT,
    "errorCode" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "payload" JSONB NOT NULL,
    "result" JSONB,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "worker" TEXT,
    "heartbeatAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "expiresAt" DATETIME,
    "revokedAt" DATETIME,
    "lastUsedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "Task_key_key" ON "Task"("key");

-- CreateIndex
CREATE INDEX "Dataset_taskId_idx" ON "Dataset"("taskId");

-- CreateIndex
CREATE UNIQUE INDEX "Dataset_name_split_key" ON "Dataset"("name", "split");

-- CreateIndex
CREATE UNIQUE INDEX "Backbone_name_key" ON "Backbone"("name");

-- CreateIndex
CREATE INDEX "Model_taskId_idx" ON "Model"("taskId");

-- CreateIndex
CREATE INDEX "Model_backboneId_idx" ON "Model"("backboneId");

-- CreateIndex
CREATE INDEX "Model_structureId_idx" ON "Model"("structureId");

-- CreateIndex
CREATE INDEX "Model_createdAt_idx" ON "Model"("createdAt");

-- CreateIndex
CREATE INDEX "Model_deletedAt_idx" ON "Model"("deletedAt");

-- CreateIndex
CREATE UNIQUE INDEX "Model_name_version_key" ON "Model"("name", "version");

-- CreateIndex
CREATE INDEX "ModelTag_tag_idx" ON "ModelTag"("tag");

-- CreateIndex
CREATE UNIQUE INDEX "Artifact_sha256_key" ON "Artifact"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "Structure_hash_key" ON "Structure"("hash");

-- CreateIndex
CREATE INDEX "StructureTensor_structureId_group_position_idx" ON "StructureTensor"("structureId", "group", "position");

-- CreateIndex
CREATE INDEX "StructureTensor_structureId_name_idx" ON "StructureTensor"("structureId", "name");

-- CreateIndex
CREATE INDEX "StructureOverlap_structureAId_fractionOfA_idx" ON "StructureOverlap"("structureAId", "fractionOfA");

-- CreateIndex
CREATE INDEX "StructureOverlap_structureBId_fractionOfB_idx" ON "StructureOverlap"("structureBId", "fractionOfB");

-- CreateIndex
CREATE INDEX "LineageEdge_childId_idx" ON "LineageEdge"("childId");

-- CreateIndex
CREATE UNIQUE INDEX "LineageEdge_parentId_childId_relation_key" ON "LineageEdge"("parentId", "childId", "relation");

-- CreateIndex
CREATE UNIQUE INDEX "Merge_outputModelId_key" ON "Merge"("outputModelId");

-- CreateIndex
CREATE INDEX "Merge_recipeHash_idx" ON "Merge"("recipeHash");

-- CreateIndex
CREATE INDEX "MergeInput_modelId_idx" ON "MergeInput"("modelId");

-- CreateIndex
CREATE INDEX "Evaluation_modelId_datasetId_settingsHash_idx" ON "Evaluation"("modelId", "datasetId", "settingsHash");

-- CreateIndex
CREATE INDEX "Evaluation_datasetId_canonical_score_idx" ON "Evaluation"("datasetId", "canonical", "score");

-- CreateIndex
CREATE INDEX "Job_status_createdAt_idx" ON "Job"("status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_tokenHash_key" ON "ApiToken"("tokenHash");

