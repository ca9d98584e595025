-- Written by hand (data only, no schema change): the INSTANCE task kind is retired, since
-- evaluation never supported it. A task created with it is given the kind its own primary metric
-- evaluates: PQ → PANOPTIC, mIoU → SEMANTIC. Nothing else changes (no score could exist).
UPDATE "Task" SET "kind" = CASE WHEN "primaryMetric" = 'PQ' THEN 'PANOPTIC' ELSE 'SEMANTIC' END WHERE "kind" = 'INSTANCE';
