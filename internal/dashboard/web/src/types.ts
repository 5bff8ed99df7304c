// Wire types of the native API (api/openapi.yaml) and of the dashboard's
// own calls (internal/dashboard), as the page uses them.

export const STATES = ["creating", "running", "pausing", "paused", "resuming", "stopping", "stopped",
  "starting", "archiving", "archived", "deleting", "deleted", "error"] as const;
export type State = typeof STATES[number];

export interface Resources { cpu: number; memoryMB: number; diskMB: number; pids: number }
export interface Network { internet: boolean; allowCIDRs: string[]; denyCIDRs: string[]; publicPorts: number[] }

export interface Sandbox {
  id: string; name: string; organizationId: string; image: string; template?: string;
  entrypoint?: string[]; state: State; desiredState: State; stateReason: string;
  metadata: Record<string, string>; resources: Resources; network: Network;
  timeoutSeconds: number | null; expiresAt: string | null;
  autoStopMinutes: number; autoArchiveMinutes: number; autoDeleteMinutes: number;
  createdAt: string; updatedAt: string; startedAt: string | null; lastActivityAt: string;
  autoResume: boolean;
}

export interface Pagination { page: number; pageSize: number; totalItems: number; totalPages: number; hasNextPage: boolean }
export interface SandboxList { items: Sandbox[]; pagination: Pagination }

export interface SandboxEvent {
  id: number; sandboxId: string; time: string; type: string;
  from?: string; to?: string; cause: string; message?: string;
}
export interface StreamEvent extends SandboxEvent { sandboxName?: string; state?: State }

export interface CreateSandboxRequest {
  name?: string; image?: string; entrypoint?: string[];
  env?: Record<string, string>; metadata?: Record<string, string>;
  resources?: Partial<Resources>; timeoutSeconds?: number;
  autoStopMinutes?: number; autoArchiveMinutes?: number; autoDeleteMinutes?: number;
  network?: { internet?: boolean; allowCIDRs?: string[]; denyCIDRs?: string[] };
  autoResume?: boolean;
}

export interface FileInfo {
  name: string; path: string; type: "file" | "dir" | "symlink" | "other";
  size: number; mode: string; modifiedAt: string; linkTarget?: string;
}
export interface FileList { items: FileInfo[]; truncated: boolean }

export interface PortURL { url: string; hostUrl?: string; expiresAt: string }

export interface Image { ref: string; digest: string; size: number; layers: number; createdAt: string }
export interface ImageProgress {
  status: "resolving" | "downloading" | "unpacking" | "done" | "error";
  layer?: string; current?: number; total?: number; image?: Image;
  error?: { code: string; message: string; requestId: string };
}

export interface APIKey {
  id: string; organizationId: string; name: string; prefix: string; admin: boolean;
  createdAt: string; revokedAt?: string; apiKey?: string;
}
export interface Webhook { id: string; url: string; secret?: string; createdAt: string }
export interface WebhookDelivery {
  deliveryId: string; event: string; sandboxId: string; from: string; to: string; attempt: number;
  time: string; statusCode: number; error?: string; latencyMs: number; outcome: "delivered" | "retrying" | "failed";
}
export interface OrgSettings {
  defaultTimeoutSeconds?: number | null; defaultAutoStopMinutes?: number | null; defaultAutoPauseMinutes?: number | null;
  defaultAutoArchiveMinutes?: number | null; defaultAutoDeleteMinutes?: number | null; updatedAt?: string;
}
export interface QuotaLimits {
  sandboxes: number | null; cpu: number | null; memoryMB: number | null; diskMB: number | null;
  imageMaxCompressedMB?: number | null; imageMaxUnpackedMB?: number | null;
}
export interface ResourceTotals { sandboxes: number; cpu: number; memoryMB: number; diskMB: number }
export interface OrgQuotas { organizationId: string; set: QuotaLimits; effective: ResourceTotals; usage: ResourceTotals; updatedAt?: string }
export interface Organization { id: string; name: string; apiKey?: string }

export interface Info {
  version: string; runtime: string;
  capabilities: { pause: boolean; archive: boolean; network: boolean; ports: boolean; diskLimit: boolean; agent: boolean };
}

// Session is the dashboard's own call (internal/dashboard); Stats is the
// native API's SandboxMetrics (GET /v1/sandboxes/{id}/metrics).
export interface Session { organizationId: string; keyId: string; admin: boolean; platformAdmin: boolean }
export interface Stats {
  sandboxId: string; state: State; time: string; cpuSeconds: number;
  memoryBytes: number; memoryLimitBytes: number; pids: number; oomKills: number;
  diskBytes: number; diskLimitBytes: number; netRxBytes: number; netTxBytes: number;
}
export interface TerminalTicket { ticket: string; sandboxId: string; expiresAt: string }
