// The executor page's entry point: wiring and startup only. Each panel lives in its own module;
// the links between them (a run refreshes stats and history, forgetting the key empties the panels) are all made here.
import { initConnect, renderConnect } from "./connect.js";
import { initInterpreter, refreshContext } from "./contexts.js";
import { initArtifacts, showArtifacts } from "./artifacts.js";
import { initConversation } from "./conversation.js";
import { initSandboxFiles, refreshSandboxFiles, resetSandboxFiles } from "./files.js";
import { $ } from "./dom.js";
import { initHistory, loadHistory, markHistory, resetHistory } from "./history.js";
import { initKey } from "./key.js";
import { initNotice } from "./notice.js";
import { initOutput, onFacts } from "./output.js";
import { initPackages } from "./packages.js";
import { currentCode, focusEditor, initRunner, showRun } from "./runner.js";
import { initSchedules, refreshSchedules, resetSchedules } from "./schedules.js";
import { apiKey } from "./session.js";
import { initShares, refreshShares, resetShares } from "./shares.js";
import { initStats, refreshStats, resetStats } from "./stats.js";
import { resetTerminal } from "./terminal.js";
import { initVolume, refreshVolume, resetVolume } from "./volume.js";
import { initWebhooks, refreshWebhooks, resetWebhooks } from "./webhooks.js";

function refreshAll() {
  void refreshStats();
  void loadHistory(true);
  void refreshVolume();
  void refreshSchedules();
  void refreshWebhooks();
  void refreshContext();
  void refreshSandboxFiles();
  void refreshShares();
}

initNotice();
initKey({
  onSaved: () => {
    focusEditor();
    refreshAll();
    renderConnect();
  },
  onForgotten: () => {
    resetStats();
    resetHistory();
    resetVolume();
    resetSchedules();
    resetWebhooks();
    renderConnect();
    void refreshContext();
    resetSandboxFiles();
    resetShares();
    resetTerminal();
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
  // The terminal may have started the conversation's sandbox.
  onTerminalAttached: () => void refreshSandboxFiles(),
});
initConversation();
initStats();
initHistory({ onOpen: showRun });
initVolume();
initSchedules({
  source: currentCode,
  onRun: () => {
    void refreshStats();
    void loadHistory(true);
  },
});
initWebhooks();
initConnect();
initSandboxFiles();
initPackages({ onInstalled: () => void refreshSandboxFiles() });
initShares();
initArtifacts({ onShared: () => void refreshShares() });
onFacts(showArtifacts);

if (apiKey()) refreshAll();
else $("key-input").focus();
document.documentElement.dataset.ready = "true";
