// The console's shell: the navigation, the hash routes (the gateway owns every path such as /content,
// so the page's own routes live after the '#'), and the session restored from the cookie on load.
import { hasRole, logOut, onSessionChange, resume, session } from "./api.js";
import { attempt, clearProblem, h, say, showProblem } from "./ui.js";
import * as account from "./views/account.js";
import * as admin from "./views/admin.js";
import * as content from "./views/content.js";
import * as listing from "./views/listing.js";
import * as studio from "./views/studio.js";

const ROUTES = [
  [/^\/?$/, listing.show],
  [/^\/login$/, account.showLogIn],
  [/^\/signup$/, account.showSignUp],
  [/^\/account$/, account.showAccount],
  [/^\/content\/([^/]+)$/, content.show],
  [/^\/studio$/, studio.show],
  [/^\/admin$/, admin.show],
];

let current = null; // the open page's AbortController: polls stop when the person leaves the page

function drawNav() {
  const nav = document.getElementById("nav");
  const links = [h("a", { href: "#/" }, "Browse")];
  if (hasRole("creator", "admin")) links.push(h("a", { href: "#/studio" }, "Studio"));
  if (hasRole("admin")) links.push(h("a", { href: "#/admin" }, "Admin"));
  if (session.user) {
    const out = h("button", { type: "button", class: "secondary" }, "Log out");
    out.addEventListener("click", () =>
      attempt(async () => {
        await logOut();
        say("You are logged out.");
        location.hash = "#/login";
      }, out),
    );
    links.push(
      h("a", { href: "#/account", class: "who" }, `${session.user.display_name} (${session.user.role})`),
      out,
    );
  } else {
    links.push(h("a", { href: "#/login", class: "who" }, "Log in"), h("a", { href: "#/signup" }, "Sign up"));
  }
  nav.replaceChildren(...links);
}

async function route() {
  current?.abort();
  current = new AbortController();
  const path = decodeURIComponent(location.hash.replace(/^#/, "").split("?")[0]);
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const main = document.getElementById("main");
  clearProblem();
  for (const [pattern, show] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    main.replaceChildren();
    try {
      await show(main, { arg: match[1], query, signal: current.signal });
    } catch (error) {
      showProblem(error);
    }
    const title = document.getElementById("page-title");
    title?.focus();
    document.title = `${title?.textContent || "Codex"} · Codex console`;
    return;
  }
  main.replaceChildren(h("h1", { tabindex: "-1", id: "page-title" }, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Browse the catalog")));
}

// No blank page: whatever escapes a view is shown in words.
window.addEventListener("error", (event) => showProblem(event.message));
window.addEventListener("unhandledrejection", (event) => showProblem(event.reason));

onSessionChange(drawNav);
window.addEventListener("hashchange", route);
await resume().catch(showProblem);
drawNav();
await route();
document.body.dataset.ready = "true";
