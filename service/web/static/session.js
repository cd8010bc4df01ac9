// Signing in: the page asks for an API token, keeps it in sessionStorage (this tab only) and sends it on
// every request (api.js). It shows who is signed in, signs out, and asks again when the API answers 401
// (a token revoked, expired or of a disabled user). A viewer sees the board without edit controls.
import { ApiError, TOKEN_KEY } from "./api.js";

const $ = (sel) => document.querySelector(sel);

export class Session {
  constructor(api, onSignedIn) {
    this.api = api;
    this.onSignedIn = onSignedIn;
    this.started = false;
    $("#sign-in-form").addEventListener("submit", (e) => this.submit(e));
    $("#sign-out").addEventListener("click", () => this.signOut());
    api.onUnauthorized((err) => this.ask(`Signed out: ${err.message}.`));
  }

  async start() {
    if (!this.api.token) {
      // Authentication may be off: whoami then answers without a token.
      try {
        const who = await this.api.whoami();
        if (who.auth === "off") return this.signedIn(who);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 401) throw err;
      }
      return this.ask(null);
    }
    try {
      this.signedIn(await this.api.whoami());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // ask() already shown by the listener
      throw err;
    }
  }

  ask(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    document.body.dataset.auth = "signed-out";
    $("#who").hidden = true;
    $("#sign-in").hidden = false;
    const error = $("#sign-in-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("#token").focus();
  }

  async submit(e) {
    e.preventDefault();
    const input = $("#token");
    const token = input.value.trim();
    if (!token) return this.ask("Enter a token.");
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = "";
    try {
      this.signedIn(await this.api.whoami());
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) this.ask(`Could not sign in: ${err.message}`);
    }
  }

  signedIn(who) {
    document.body.dataset.auth = "signed-in";
    document.body.dataset.role = who.role;
    $("#sign-in").hidden = true;
    $("#sign-in-error").hidden = true;
    const on = who.auth !== "off";
    $("#who").hidden = !on;
    $("#who-name").textContent = on ? who.username : "";
    $("#who-role").textContent = on ? who.role : "";
    if (!this.started) {
      this.started = true;
      this.onSignedIn(who);
    }
  }

  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    window.location.reload(); // nothing of the signed-in board stays on screen
  }
}
