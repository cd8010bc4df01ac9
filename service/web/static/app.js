// The task board: create, edit, move, delete, filter, load more; optimistic concurrency with If-Match.
import { Api, ApiError } from "./api.js";
import { ClusterPanel } from "./cluster.js";
import { Session } from "./session.js";

const STATUSES = ["todo", "in_progress", "done"];
const LABELS = { todo: "To do", in_progress: "In progress", done: "Done" };
// page size of the board; ?page_size=N (1..500) overrides it
const PAGE = Math.min(500, Math.max(1, Number(new URLSearchParams(window.location.search).get("page_size")) || 50));

const $ = (sel, root = document) => root.querySelector(sel);

const api = new Api(); // relative URLs only: the page's own origin
// loads: the number of the newest first-page load; created: [time, task] of the tasks this page created
// lately, which a load that was already under way may not list yet.
const state = { tasks: new Map(), next: null, filter: "", loads: 0, created: [] };

// -- notices ---------------------------------------------------------------------------------------

function announce(text, kind = "info") {
  const box = $("#notices");
  const item = document.createElement("p");
  item.className = `notice ${kind}`;
  item.textContent = text;
  box.prepend(item);
  while (box.children.length > 4) box.lastElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" || kind === "warn" ? 20000 : 8000);
}

function explain(err) {
  if (err instanceof ApiError) {
    if (err.status === 0) return `The cluster is unavailable: ${err.message}`;
    return `${err.message} (${err.status})`;
  }
  return String(err);
}

// -- rendering -------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function card(task, message = null) {
  const li = el("li", { class: "card", "data-task-id": String(task.id), "data-version": String(task.version) });
  const titleId = `task-${task.id}-title`;
  const article = el("article", { "aria-labelledby": titleId });
  article.append(el("h3", { id: titleId, class: "title" }, task.title));
  if (task.description) article.append(el("p", { class: "description" }, task.description));
  article.append(el("p", { class: "meta" }, `#${task.id} · version ${task.version} · by ${task.created_by}`));
  if (message) article.append(el("p", { class: "card-alert", role: "alert" }, message));
  const actions = el("div", { class: "actions", role: "group", "aria-label": `Actions for ${task.title}` });
  for (const status of STATUSES) {
    if (status === task.status) continue;
    actions.append(
      el(
        "button",
        {
          type: "button",
          class: "move",
          "data-move": status,
          "aria-label": `Move “${task.title}” to ${LABELS[status]}`,
          onclick: () => move(task.id, status),
        },
        `→ ${LABELS[status]}`,
      ),
    );
  }
  actions.append(
    el("button", { type: "button", "data-action": "edit", "aria-label": `Edit “${task.title}”`, onclick: () => openEditor(task.id) }, "Edit"),
    el(
      "button",
      { type: "button", class: "danger", "data-action": "delete", "aria-label": `Delete “${task.title}”`, onclick: () => remove(task.id) },
      "Delete",
    ),
  );
  article.append(actions);
  li.append(article);
  return li;
}

function render(messages = {}) {
  for (const status of STATUSES) {
    const list = $(`[data-list="${status}"]`);
    const items = [...state.tasks.values()].filter((t) => t.status === status).sort((a, b) => a.id - b.id);
    list.replaceChildren(...items.map((t) => card(t, messages[t.id])));
    $(`[data-count="${status}"]`).textContent = String(items.length);
    const column = list.closest(".column");
    column.hidden = Boolean(state.filter) && state.filter !== status;
  }
  $("#columns").classList.toggle("single", Boolean(state.filter));
  $("#load-more").hidden = state.next === null || state.next === undefined;
  $("#count").textContent = `${state.tasks.size} task${state.tasks.size === 1 ? "" : "s"} shown${state.next ? " (more on the server)" : ""}`;
}

function rerenderCard(id, message = null) {
  const old = $(`li[data-task-id="${id}"]`);
  const task = state.tasks.get(id);
  if (!task || (state.filter && task.status !== state.filter)) {
    if (task && state.filter && task.status !== state.filter) state.tasks.delete(id);
    if (old) old.remove();
    render();
    return;
  }
  if (old && old.closest("ul").dataset.list === task.status) {
    const fresh = card(task, message);
    old.replaceWith(fresh);
    return fresh;
  }
  const messages = message ? { [id]: message } : {};
  render(messages);
  return $(`li[data-task-id="${id}"]`);
}

// -- loading ---------------------------------------------------------------------------------------

async function loadFirst() {
  const load = ++state.loads;
  const started = performance.now();
  try {
    const page = await api.listTasks({ status: state.filter, limit: PAGE });
    if (load !== state.loads) return; // a newer load (a refresh, a new filter) was started meanwhile
    state.tasks = new Map(page.items.map((t) => [t.id, t]));
    state.next = page.next;
    for (const [at, task] of state.created) {
      const shown = !state.filter || state.filter === task.status;
      if (at > started && shown && state.next == null && !state.tasks.has(task.id)) state.tasks.set(task.id, task);
    }
    render();
  } catch (err) {
    announce(`Could not load tasks: ${explain(err)}`, "error");
  }
}

async function loadMore() {
  if (state.next === null) return;
  const button = $("#load-more");
  button.disabled = true;
  try {
    const page = await api.listTasks({ status: state.filter, limit: PAGE, after: state.next });
    for (const t of page.items) state.tasks.set(t.id, t);
    state.next = page.next;
    render();
  } catch (err) {
    announce(`Could not load more tasks: ${explain(err)}`, "error");
  } finally {
    button.disabled = false;
  }
}

// After a 412: fetch the task again and show what it is now, instead of overwriting it.
async function reloadAfterConflict(id) {
  const msg = "Changed by someone else — reloaded. Your change was not saved; this is the current version.";
  try {
    const fresh = await api.getTask(id);
    state.tasks.set(id, fresh);
    const li = rerenderCard(id, msg);
    announce(`Task #${id} was changed by someone else — reloaded. Your change was not saved.`, "warn");
    if (li) li.querySelector("button")?.focus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return gone(id);
    announce(`Task #${id} changed elsewhere and could not be reloaded: ${explain(err)}`, "error");
  }
}

function gone(id) {
  state.tasks.delete(id);
  rerenderCard(id);
  announce(`Task #${id} no longer exists (deleted elsewhere).`, "warn");
}

// -- actions ---------------------------------------------------------------------------------------

async function write(id, action) {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ApiError && err.status === 412) await reloadAfterConflict(id);
    else if (err instanceof ApiError && err.status === 404) gone(id);
    else announce(`Task #${id}: ${explain(err)}`, "error");
    return null;
  }
}

async function move(id, status) {
  const task = state.tasks.get(id);
  if (!task) return;
  const updated = await write(id, () => api.updateTask(id, { status }, task.version));
  if (!updated) return;
  state.tasks.set(id, updated);
  const li = rerenderCard(id);
  announce(`Moved “${updated.title}” to ${LABELS[status]}.`);
  (li?.querySelector("button.move") || $(`[data-list="${status}"]`).closest(".column").querySelector("h2"))?.focus?.();
}

async function remove(id) {
  const task = state.tasks.get(id);
  if (!task) return;
  const ok = await write(id, () => api.deleteTask(id, task.version));
  if (!ok) return;
  state.tasks.delete(id);
  rerenderCard(id);
  announce(`Deleted “${task.title}”.`);
  $("#new-title").focus();
}

function openEditor(id) {
  const task = state.tasks.get(id);
  const li = $(`li[data-task-id="${id}"]`);
  if (!task || !li) return;
  const version = task.version; // the version the user sees is the one the edit must apply to
  const form = el(
    "form",
    { class: "editor", "aria-label": `Edit task #${id}` },
    el("label", { for: `edit-title-${id}` }, "Title"),
    el("input", { id: `edit-title-${id}`, name: "title", required: true, maxlength: "200", value: task.title }),
    el("label", { for: `edit-description-${id}` }, "Description"),
    el("textarea", { id: `edit-description-${id}`, name: "description", rows: "3" }),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit", class: "primary" }, "Save"),
      el("button", { type: "button", onclick: () => rerenderCard(id) }, "Cancel"),
    ),
  );
  form.querySelector("textarea").value = task.description || "";
  form.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      rerenderCard(id);
      $(`li[data-task-id="${id}"] [data-action="edit"]`)?.focus();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const title = form.elements.title.value.trim();
    if (!title) {
      announce("A task needs a title.", "error");
      form.elements.title.focus();
      return;
    }
    const fields = { title, description: form.elements.description.value };
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    const updated = await write(id, () => api.updateTask(id, fields, version));
    if (!updated) return;
    state.tasks.set(id, updated);
    const fresh = rerenderCard(id);
    announce(`Saved “${updated.title}”.`);
    fresh?.querySelector('[data-action="edit"]')?.focus();
  });
  li.querySelector("article").replaceChildren(form);
  form.elements.title.focus();
}

async function create(e) {
  e.preventDefault();
  const form = e.target;
  const title = form.elements.title.value.trim();
  if (!title) {
    announce("A task needs a title.", "error");
    form.elements.title.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const task = await api.createTask({
      title,
      description: form.elements.description.value,
      status: form.elements.status.value,
    });
    state.created = [...state.created.filter(([at]) => performance.now() - at < 60000), [performance.now(), task]];
    if (!state.filter || state.filter === task.status) {
      // only show it if the board already reaches its id (else it comes with "Load more")
      if (state.next === null || state.next === undefined) state.tasks.set(task.id, task);
    }
    render();
    form.elements.title.value = "";
    form.elements.description.value = "";
    announce(`Created task #${task.id} “${task.title}”.`);
  } catch (err) {
    announce(`Could not create the task: ${explain(err)}`, "error");
  } finally {
    button.disabled = false;
    form.elements.title.focus();
  }
}

// -- start -----------------------------------------------------------------------------------------

api.onAnswer((node) => {
  $("#via").textContent = `${window.location.host} (answered by ${node})`;
});
api.onConnection((online) => {
  const banner = $("#connection");
  document.body.dataset.connection = online ? "ok" : "lost";
  banner.hidden = online;
  if (online) {
    announce("Connection restored.");
    loadFirst(); // what changed meanwhile
  }
});
$("#create-form").addEventListener("submit", create);
$("#load-more").addEventListener("click", loadMore);
$("#refresh").addEventListener("click", loadFirst);
$("#filter").addEventListener("change", (e) => {
  state.filter = e.target.value;
  loadFirst();
});

const panel = new ClusterPanel(api, {
  table: $("#cluster-table"),
  rows: $("#cluster-rows"),
  source: $("#cluster-source"),
  summary: $("#cluster-summary"),
  notice: $("#leader-notice"),
  announce,
});
// The board and the panel start once signed in (or at once when the cluster runs without authentication).
new Session(api, () => {
  panel.start();
  loadFirst().then(() => document.body.setAttribute("data-ready", "1"));
}).start();
