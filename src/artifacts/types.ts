// The shape of a run's artifact manifest, shared by results, history and shares (no imports: the
// Node-side tools type-check the execution types too).

export type ArtifactChange = "created" | "modified" | "deleted";

/** A file under the sandbox's working directory that a run changed. */
export interface Artifact {
  /** Relative to the working directory (/home/user). */
  path: string;
  /** Bytes after the run (0 for a deleted file). */
  size: number;
  change: ArtifactChange;
}
