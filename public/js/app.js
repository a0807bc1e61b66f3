// The executor page's entry point: wiring and startup only. Each panel lives in its own module;
// the links between them (a run refreshes stats and history, forgetting the key empties the panels) are all made here.
import { initInterpreter, refreshContext } from "./contexts.js";
import { initConversation } from "./conversation.js";
import { initSandboxFiles, refreshSandboxFiles, resetSandboxFiles } from "./files.js";
import { $ } from "./dom.js";
import { initHistory, loadHistory, markHistory, resetHistory } from "./history.js";
import { initKey } from "./key.js";
import { initNotice } from "./notice.js";
import { initOutput } from "./output.js";
import { initPackages } from "./packages.js";
import { focusEditor, initRunner, showRun } from "./runner.js";
import { apiKey } from "./session.js";
import { initStats, refreshStats, resetStats } from "./stats.js";
import { initVolume, refreshVolume, resetVolume } from "./volume.js";

function refreshAll() {
  void refreshStats();
  void loadHistory(true);
  void refreshVolume();
  void refreshContext();
  void refreshSandboxFiles();
}

initNotice();
initKey({
  onSaved: () => {
    focusEditor();
    refreshAll();
  },
  onForgotten: () => {
    resetStats();
    resetHistory();
    resetVolume();
    void refreshContext();
    resetSandboxFiles();
  },
});
initOutput();
initInterpreter();
initRunner({
  onRunStart: () => markHistory(null),
  onRunEnd: () => {
    void refreshStats();
    void loadHistory(true);
    void refreshContext();
    void refreshSandboxFiles();
  },
});
initConversation();
initStats();
initHistory({ onOpen: showRun });
initVolume();
initSandboxFiles();
initPackages({ onInstalled: () => void refreshSandboxFiles() });

if (apiKey()) refreshAll();
else $("key-input").focus();
document.documentElement.dataset.ready = "true";
