// The executor page's entry point: wiring and startup only. Each panel lives in its own module;
// the links between them (a run refreshes stats and history, forgetting the key empties the panels) are all made here.
import { initArtifacts, showArtifacts } from "./artifacts.js";
import { initConversation } from "./conversation.js";
import { $ } from "./dom.js";
import { initHistory, loadHistory, markHistory, resetHistory } from "./history.js";
import { initKey } from "./key.js";
import { initNotice } from "./notice.js";
import { initOutput, onFacts } from "./output.js";
import { focusEditor, initRunner, showRun } from "./runner.js";
import { apiKey } from "./session.js";
import { initShares, refreshShares, resetShares } from "./shares.js";
import { initStats, refreshStats, resetStats } from "./stats.js";
import { initVolume, refreshVolume, resetVolume } from "./volume.js";

function refreshAll() {
  void refreshStats();
  void loadHistory(true);
  void refreshVolume();
  void refreshShares();
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
    resetShares();
  },
});
initOutput();
initRunner({
  onRunStart: () => markHistory(null),
  onRunEnd: () => {
    void refreshStats();
    void loadHistory(true);
  },
});
initConversation();
initStats();
initHistory({ onOpen: showRun });
initVolume();
initShares();
initArtifacts({ onShared: () => void refreshShares() });
onFacts(showArtifacts);

if (apiKey()) refreshAll();
else $("key-input").focus();
document.documentElement.dataset.ready = "true";
