// The cluster panel: every second, ask each known node for its own /api/v1/cluster view.
import { nodeView } from "./api.js";

const POLL_MS = 1000;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

export class ClusterPanel {
  constructor(api, { rows, summary, notice, announce }) {
    this.api = api;
    this.rows = rows;
    this.summary = summary;
    this.notice = notice;
    this.announce = announce;
    this.nodes = []; // [{url, nodeId}]
    this.leader = null; // node id of the leader last shown
    this.busy = false;
    this.addUrls(api.nodes);
  }

  addUrls(urls, ids = {}) {
    for (const raw of urls) {
      const url = (raw || "").replace(/\/+$/, "");
      if (!url) continue;
      const known = this.nodes.find((n) => n.url === url);
      if (known) {
        if (!known.nodeId && ids[url]) known.nodeId = ids[url];
      } else {
        this.nodes.push({ url, nodeId: ids[url] || null });
      }
    }
  }

  start() {
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  async poll() {
    if (this.busy) return;
    this.busy = true;
    try {
      const views = await Promise.all(this.nodes.map((n) => nodeView(n.url)));
      const learned = [];
      const ids = {};
      views.forEach((view, i) => {
        if (!view) return;
        this.nodes[i].nodeId = view.node_id;
        for (const m of view.nodes || []) {
          if (m.api_url) {
            learned.push(m.api_url);
            if (m.node_id) ids[m.api_url.replace(/\/+$/, "")] = m.node_id;
          }
        }
      });
      if (learned.length) {
        this.addUrls(learned, ids);
        this.api.addNodes(learned);
      }
      this.render(views);
    } finally {
      this.busy = false;
    }
  }

  // The leader, as told by the answering node with the highest term that knows one.
  static leaderOf(views) {
    let best = null;
    for (const v of views) {
      if (!v || !v.leader_id) continue;
      if (!best || v.term > best.term) best = v;
    }
    return best ? best.leader_id : null;
  }

  render(views) {
    // dedupe: the same node may be known under two URLs (the page's origin and its api_url)
    const byId = new Map();
    this.nodes.forEach((n, i) => {
      const key = views[i] ? views[i].node_id : n.nodeId || n.url;
      const prev = byId.get(key);
      if (!prev || (!prev.view && views[i])) byId.set(key, { node: n, view: views[i] || null, key });
    });
    const entries = [...byId.values()].sort((a, b) => String(a.key).localeCompare(String(b.key)));
    const leader = ClusterPanel.leaderOf(views);
    this.rows.replaceChildren(
      ...entries.map(({ node, view, key }) => {
        const isLeader = view && view.role === "leader";
        const name = view ? view.node_id : node.nodeId || node.url;
        const role = view ? view.role : "—";
        const tr = el(
          "tr",
          {
            class: [isLeader ? "leader" : "", view ? "" : "down"].join(" ").trim(),
            "data-node": String(name),
            "data-role": view ? view.role : "unreachable",
          },
          el("th", { scope: "row" }, el("span", { class: "node-name" }, name), el("span", { class: "node-url" }, node.url)),
          el("td", {}, isLeader ? el("strong", { class: "role-badge" }, "★ leader") : role),
          el("td", {}, view ? String(view.term) : "—"),
          el("td", {}, view ? String(view.commit_index) : "—"),
          el("td", {}, view ? String(view.last_applied) : "—"),
          el("td", {}, view ? el("span", { class: "ok" }, "✓ yes") : el("span", { class: "bad" }, "✗ no")),
        );
        return tr;
      }),
    );
    const answering = entries.filter((e) => e.view).length;
    const top = Math.max(0, ...views.filter(Boolean).map((v) => v.term));
    this.summary.textContent = leader
      ? `Leader: ${leader} · term ${top} · ${answering} of ${entries.length} nodes answer`
      : `No leader right now · ${answering} of ${entries.length} nodes answer`;
    this.summary.dataset.leader = leader || "";
    if (leader && this.leader && leader !== this.leader) {
      const text = `Leader changed: ${this.leader} → ${leader}`;
      this.notice.textContent = text;
      this.notice.dataset.changed = "1";
      this.announce(text, "info");
    }
    if (leader) this.leader = leader;
  }
}
