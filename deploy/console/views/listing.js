// The listing everyone sees: published content, searched by words, paged by cursor.
import { api } from "../api.js";
import { attempt, field, h, heading, money } from "../ui.js";

const PAGE_SIZE = 12;

export async function show(main, { query }) {
  const words = query.get("q") || "";
  const [searchField, search] = field("Search", h("input", { type: "search", name: "q", value: words, placeholder: "Words of a title or description" }));
  const [pricingField, pricing] = field(
    "Price",
    h("select", { name: "pricing" }, h("option", { value: "" }, "Any"), h("option", { value: "free" }, "Free"), h("option", { value: "paid" }, "Paid")),
  );
  pricing.value = query.get("pricing") || "";
  const form = h("form", { role: "search", "aria-label": "Search the catalog" }, h("div", { class: "row end" }, searchField, pricingField, h("button", { type: "submit" }, "Search")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (search.value.trim()) next.set("q", search.value.trim());
    if (pricing.value) next.set("pricing", pricing.value);
    location.hash = `#/?${next}`;
  });
  const results = h("ul", { class: "items", id: "results", "aria-live": "polite" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const cursors = [null]; // the cursor of each page seen, so "Previous page" can go back

  const draw = async () => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (words) params.set("q", words);
    if (pricing.value) params.set("pricing", pricing.value);
    const cursor = cursors[cursors.length - 1];
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/content?${params}`);
    results.replaceChildren(
      ...page.items.map((item) =>
        h(
          "li",
          { "data-content-id": item.id },
          h("h2", {}, h("a", { href: `#/content/${item.id}` }, item.title)),
          h("p", { class: "meta" }, `${money(item.price_cents, item.currency)} · by ${item.creator_name || "a creator"} · ${new Date(item.published_at).toLocaleDateString()}`),
          item.description ? h("p", {}, item.description) : null,
        ),
      ),
    );
    if (!page.items.length) results.append(h("li", {}, words ? `Nothing matches “${words}”.` : "Nothing is published yet."));
    pager.replaceChildren();
    if (cursors.length > 1) {
      pager.append(h("button", { type: "button", class: "secondary", onclick: (e) => (cursors.pop(), attempt(draw, e.currentTarget)) }, "Previous page"));
    }
    if (page.next_cursor) {
      pager.append(h("button", { type: "button", class: "secondary", onclick: (e) => (cursors.push(page.next_cursor), attempt(draw, e.currentTarget)) }, "Next page"));
    }
  };

  main.append(heading(words ? `Search: ${words}` : "Browse"), h("section", {}, form), results, pager);
  await draw();
}
