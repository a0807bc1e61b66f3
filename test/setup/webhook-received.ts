// What the test webhook receiver records of each request (shared by the Node receiver and the worker tests).
export interface Received {
  webhookId: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  /** Whether `standardwebhooks` accepted the signature with the endpoint's secret. */
  verified: boolean;
  error?: string;
  payload: unknown;
  /** The status the receiver answered with. */
  answered: number;
}
