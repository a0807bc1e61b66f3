// The state every panel shares: the API key (kept in this browser) and the API client that sends it.
import { Client } from "./api.js";
import { STORE, storage } from "./storage.js";

let key = storage.get(STORE.key) ?? "";

/** The saved API key, or "" when there is none. */
export const apiKey = () => key;

/** Saves the key in this browser; "" forgets it. @param {string} value */
export function setApiKey(value) {
  key = value;
  if (value) storage.set(STORE.key, value);
  else storage.remove(STORE.key);
}

export const client = new Client(apiKey);
