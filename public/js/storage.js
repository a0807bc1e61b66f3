// What the page keeps in this browser, under which keys; localStorage that falls back to memory where storage is blocked.

export const STORE = {
  key: "phoenix.apiKey",
  language: "phoenix.language",
  conversation: "phoenix.conversation",
  code: (/** @type {string} */ lang) => `phoenix.code.${lang}`,
};

export const storage = (() => {
  const memory = new Map();
  return {
    get: (/** @type {string} */ k) => {
      try {
        return localStorage.getItem(k);
      } catch {
        return memory.get(k) ?? null;
      }
    },
    set: (/** @type {string} */ k, /** @type {string} */ v) => {
      try {
        localStorage.setItem(k, v);
      } catch {
        memory.set(k, v);
      }
    },
    remove: (/** @type {string} */ k) => {
      try {
        localStorage.removeItem(k);
      } catch {
        memory.delete(k);
      }
    },
  };
})();
