// The cluster panel: every second, ask the page's own origin for every member's own view
// (/api/v1/cluster/nodes). The node that answers gathers them over the cluster's network, so the
// panel shows every member even when the browser reaches only one address.

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

const shown = (value) => (value === null || value === undefined ? "—" : String(value));

function contact(member, leaderId) {
  if (member.node_id && member.node_id === leaderId) return "leader";
  const s = member.last_contact_s;
  return typeof s === "number" ? `${s.toFixed(1)} s` : "—";
}

const clock = (epochSeconds) => new Date(epochSeconds * 1000).toLocaleTimeString([], { hour12: false });

export class ClusterPanel {
  constructor(api, { table, rows, summary, notice, source, announce }) {
    this.api = api;
    this.table = table;
    this.rows = rows;
    this.summary = summary;
    this.notice = notice;
    this.source = source;
    this.announce = announce;
    this.leader = null; // node id of the leader last shown
    this.last = null; // the last view shown
    this.busy = false;
  }

  start() {
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  async poll() {
    if (this.busy) return;
    this.busy = true;
    try {
      const overview = await this.api.clusterNodes();
      if (overview && Array.isArray(overview.nodes)) this.render(overview);
      else this.lost("No answer from this address");
    } catch (err) {
      // an answer without the view: a node still starting (503), or one that predates it (404)
      this.lost(`The node that answered has no view to show (HTTP ${err.status || "?"})`);
    } finally {
      this.busy = false;
    }
  }

  // No answer: keep the members last shown, marked as an old view, and keep asking.
  lost(why) {
    this.table.classList.add("stale");
    this.summary.dataset.leader = "";
    this.summary.dataset.state = "lost";
    this.summary.textContent = this.last
      ? `${why} — retrying · last view ${clock(this.last.collected_at)}`
      : `${why} — retrying`;
  }

  render(overview) {
    this.last = overview;
    this.table.classList.remove("stale");
    this.summary.dataset.state = "ok";
    const leader = overview.leader_id || null;
    const members = [...overview.nodes].sort((a, b) =>
      String(a.node_id ?? a.raft_address).localeCompare(String(b.node_id ?? b.raft_address)),
    );
    this.rows.replaceChildren(
      ...members.map((m) => {
        const name = m.node_id || m.raft_address;
        const isLeader = m.reachable && leader !== null && m.node_id === leader;
        const role = m.reachable ? m.role || "—" : "—";
        return el(
          "tr",
          {
            class: [isLeader ? "leader" : "", m.reachable ? "" : "down"].join(" ").trim(),
            "data-node": String(name),
            "data-role": m.reachable ? String(m.role) : "unreachable",
            "data-membership": String(m.membership),
          },
          el(
            "th",
            { scope: "row" },
            el("span", { class: "node-name" }, name),
            el("span", { class: "node-url" }, m.api_url || m.raft_address),
          ),
          el("td", {}, isLeader ? el("strong", { class: "role-badge" }, "★ leader") : role),
          el("td", {}, shown(m.term)),
          el("td", {}, shown(m.commit_index)),
          el("td", {}, shown(m.last_applied)),
          el("td", {}, shown(m.lag)),
          el("td", {}, contact(m, leader)),
          el(
            "td",
            m.reachable ? {} : { title: m.error || "did not answer" },
            m.reachable ? el("span", { class: "ok" }, "✓ yes") : el("span", { class: "bad" }, "✗ no"),
          ),
        );
      }),
    );
    const answering = members.filter((m) => m.reachable).length;
    const leaderRow = members.find((m) => m.node_id === leader && m.reachable);
    const term = leaderRow ? leaderRow.term : overview.term;
    this.summary.textContent = leader
      ? `Leader: ${leader} · term ${term} · ${answering} of ${members.length} nodes answer`
      : `No leader right now · ${answering} of ${members.length} nodes answer`;
    this.summary.dataset.leader = leader || "";
    this.source.textContent = `Each member's own view, gathered by ${overview.node_id} at ${clock(overview.collected_at)}.`;
    if (leader && this.leader && leader !== this.leader) {
      const text = `Leader changed: ${this.leader} → ${leader}`;
      this.notice.textContent = text;
      this.notice.dataset.changed = "1";
      this.announce(text, "info");
    }
    if (leader) this.leader = leader;
  }
}
