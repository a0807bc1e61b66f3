// The shape of a run's artifact manifest, shared by results, history and shares (a zod schema: the
// OpenAPI document's, with the type derived from it).
import { z } from "zod";

export const ARTIFACT_CHANGES = ["created", "modified", "deleted"] as const;
export type ArtifactChange = (typeof ARTIFACT_CHANGES)[number];

/** A file under the sandbox's working directory that a run changed. */
export const artifactSchema = z
  .object({
    path: z.string().describe("Relative to the working directory (/home/user)."),
    size: z.number().int().describe("Bytes after the run (0 for a deleted file)."),
    change: z.enum(ARTIFACT_CHANGES),
  })
  .meta({ id: "Artifact" });
export type Artifact = z.infer<typeof artifactSchema>;
