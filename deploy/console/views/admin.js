// For admins: every creator's assets by state, with retry for failed or canceled ones, and users' roles.
import { api, hasRole } from "../api.js";
import { attempt, field, h, heading, say } from "../ui.js";

const STATES = ["", "queued", "submitted", "running", "ready", "failed", "canceled"];
const ROLES = ["customer", "creator", "admin"];

function rolesForm() {
  const [userField, user] = field("User id", h("input", { type: "text", name: "user_id", required: true, autocomplete: "off" }), "The person finds it on their account page.");
  const [roleField, role] = field("Role", h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r }, r))));
  role.value = "creator";
  const submit = h("button", { type: "submit" }, "Change the role");
  const result = h("p", { id: "role-result", "aria-live": "polite" });
  const form = h("form", { "aria-labelledby": "roles-title" }, h("div", { class: "row" }, userField, roleField), submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const changed = await api(`/auth/users/${encodeURIComponent(user.value.trim())}/role`, { method: "PATCH", body: { role: role.value } });
      result.textContent = `${changed.display_name} (${changed.email}) is now ${changed.role}. Their next access token carries it.`;
      say(result.textContent);
    }, submit);
  });
  return h("section", {}, h("h2", { id: "roles-title" }, "Users' roles"), form, result);
}

function assetsSection() {
  const [stateField, state] = field("State", h("select", { name: "state" }, STATES.map((s) => h("option", { value: s }, s || "any"))));
  const list = h("ul", { class: "items", id: "assets" });
  const pager = h("div", { class: "pager" });
  const cursors = [null];
  const draw = async () => {
    const params = new URLSearchParams({ limit: "20" });
    if (state.value) params.set("state", state.value);
    const cursor = cursors[cursors.length - 1];
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/assets?${params}`);
    list.replaceChildren(...page.items.map((asset) => assetItem(asset, draw)));
    if (!page.items.length) list.append(h("li", {}, "No assets in this state."));
    pager.replaceChildren();
    if (cursors.length > 1) pager.append(h("button", { type: "button", class: "secondary", onclick: () => (cursors.pop(), attempt(draw)) }, "Previous page"));
    if (page.next_cursor) pager.append(h("button", { type: "button", class: "secondary", onclick: () => (cursors.push(page.next_cursor), attempt(draw)) }, "Next page"));
  };
  state.addEventListener("change", () => {
    cursors.splice(1);
    attempt(draw);
  });
  const refresh = h("button", { type: "button", class: "secondary" }, "Refresh");
  refresh.addEventListener("click", () => attempt(draw, refresh));
  return { element: h("section", {}, h("h2", {}, "Assets"), h("div", { class: "row end" }, stateField, refresh), list, pager), draw };
}

function assetItem(asset, redraw) {
  const retry = h("button", { type: "button", "aria-label": `Retry ${asset.filename}` }, "Retry");
  retry.addEventListener("click", () =>
    attempt(async () => {
      const again = await api(`/assets/${asset.id}/retry`, { method: "POST" });
      say(`${again.filename} was retried: now ${again.state}.`);
      await redraw();
    }, retry),
  );
  const percent = asset.progress?.percent;
  return h(
    "li",
    {},
    h("h3", {}, asset.filename),
    h("p", { class: "meta" }, h("span", { class: `badge ${asset.state}` }, asset.state), percent != null && asset.state !== "ready" ? ` ${percent.toFixed(0)} %` : "", ` · ${asset.headline}`),
    asset.error_message ? h("p", { class: "meta" }, `Error: ${asset.error_message}`) : null,
    h("p", { class: "meta" }, `Asset ${asset.id} · owner ${asset.owner_id} · attempts ${asset.attempts} · encoder ${asset.encoder || "–"}`),
    asset.state === "failed" || asset.state === "canceled" ? h("div", { class: "actions" }, retry) : null,
  );
}

export async function show(main) {
  main.append(heading("Admin"));
  if (!hasRole("admin")) {
    main.append(h("p", {}, "This page is for admins."));
    return;
  }
  const assets = assetsSection();
  main.append(rolesForm(), assets.element);
  await assets.draw();
}
