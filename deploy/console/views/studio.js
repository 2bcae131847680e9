// The creator's studio: upload a file with a progress bar, follow its transcode, create, edit and
// publish content, and see one's own content in every status.
import { api, hasRole, isTransient } from "../api.js";
import { attempt, field, h, heading, money, progressBar, say, sleep } from "../ui.js";
import { uploadFile } from "../upload.js";

const CURRENCIES = ["EUR", "USD", "GBP"];
const SETTLED = new Set(["published", "failed", "archived"]);

/** Poll the asset made from `uploadId` until it is ready (or failed), drawing its progress. */
async function followAsset(uploadId, bar, stateLine, signal) {
  while (!signal.aborted) {
    let page;
    try {
      page = await api(`/assets?upload_id=${encodeURIComponent(uploadId)}`);
    } catch (error) {
      // A service restarting (502/503/504, or no answer) is no reason to stop following the transcode.
      if (!isTransient(error)) throw error;
      say(`${error.message}; asking again…`);
      await sleep(3000);
      continue;
    }
    const asset = page.items[0];
    if (asset) {
      const percent = asset.progress?.percent ?? (asset.state === "ready" ? 100 : 0);
      const stage = asset.progress?.stage ? ` (${asset.progress.stage})` : "";
      bar.set(percent, `${percent.toFixed(0)} % · ${asset.state}${stage}`);
      stateLine.textContent = asset.state;
      stateLine.className = `badge ${asset.state}`;
      if (asset.state === "ready") return asset;
      if (asset.state === "failed" || asset.state === "canceled") {
        throw new Error(`The transcode ${asset.state}: ${asset.error_message || asset.error_code || "no reason given"}`);
      }
    } else {
      bar.set(0, "Waiting for the transcode to be queued…");
    }
    await sleep(1000);
  }
  return null;
}

function contentForm(onSaved) {
  const [titleField, title] = field("Title", h("input", { type: "text", name: "title", required: true, maxlength: "200" }));
  const [descriptionField, description] = field("Description", h("textarea", { name: "description", maxlength: "5000" }));
  const [priceField, price] = field(
    "Price",
    h("input", { type: "number", name: "price", min: "0", step: "0.01", inputmode: "decimal", required: true, value: "4.99" }),
    "0 makes it free to watch for anyone signed in.",
  );
  const [currencyField, currency] = field("Currency", h("select", { name: "currency" }, CURRENCIES.map((c) => h("option", { value: c }, c))));
  const [uploadField, upload] = field("Upload id", h("input", { type: "text", name: "upload_id", id: "content-upload-id" }), "Filled in when an upload completes.");
  const save = h("button", { type: "submit", name: "save" }, "Save draft");
  const publish = h("button", { type: "submit", name: "publish", class: "secondary" }, "Save and publish");
  const legend = h("h2", { id: "content-form-title" }, "New content");
  let editing = null;
  const form = h(
    "form",
    { "aria-labelledby": "content-form-title" },
    titleField,
    descriptionField,
    h("div", { class: "row" }, priceField, currencyField),
    uploadField,
    h("div", { class: "actions" }, save, publish),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const andPublish = event.submitter === publish;
    attempt(async () => {
      const body = {
        title: title.value,
        description: description.value,
        price_cents: Math.round(Number(price.value) * 100),
        currency: currency.value,
        upload_id: upload.value.trim() || null,
      };
      let item = editing
        ? await api(`/content/${editing}`, { method: "PATCH", body })
        : await api("/content", { method: "POST", body });
      if (andPublish) item = await api(`/content/${item.id}/publish`, { method: "POST" });
      say(andPublish && item.status !== "published" ? `“${item.title}” will be published once its video is ready.` : `“${item.title}” saved (${item.status}).`);
      editing = item.id;
      legend.textContent = `Edit “${item.title}”`;
      onSaved();
    }, event.submitter);
  });
  return {
    element: h("section", {}, legend, form),
    useUpload(id) {
      upload.value = id;
    },
    edit(item) {
      editing = item.id;
      legend.textContent = `Edit “${item.title}”`;
      title.value = item.title;
      description.value = item.description ?? "";
      price.value = (item.price_cents / 100).toFixed(2);
      currency.value = item.currency;
      upload.value = item.upload_id ?? "";
      title.focus();
    },
  };
}

export async function show(main, { signal }) {
  main.append(heading("Studio"));
  if (!hasRole("creator", "admin")) {
    main.append(h("p", {}, "The studio is for creators. ", h("a", { href: "#/account" }, "Your account"), " shows your user id for an admin to make you one."));
    return;
  }
  const mine = h("ul", { class: "items", id: "my-content" });
  const pager = h("div", { class: "pager" });
  let cursor = null;
  const drawMine = async () => {
    const page = await api(`/content/mine?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    mine.replaceChildren(...page.items.map(contentItem));
    if (!page.items.length) mine.append(h("li", {}, "Nothing yet: upload a video and describe it."));
    pager.replaceChildren();
    if (cursor) pager.append(h("button", { type: "button", class: "secondary", onclick: () => ((cursor = null), attempt(drawMine)) }, "First page"));
    if (page.next_cursor) pager.append(h("button", { type: "button", class: "secondary", onclick: () => ((cursor = page.next_cursor), attempt(drawMine)) }, "Next page"));
    return page.items;
  };
  const form = contentForm(() => attempt(drawMine));
  const contentItem = (item) => {
    const publish = h("button", { type: "button" }, "Publish");
    publish.addEventListener("click", () =>
      attempt(async () => {
        const done = await api(`/content/${item.id}/publish`, { method: "POST" });
        say(done.status === "published" ? `“${done.title}” is published.` : `“${done.title}” will be published once its video is ready.`);
        await drawMine();
      }, publish),
    );
    const waiting = item.publish_requested && item.status !== "published" ? " · publishing when ready" : "";
    return h(
      "li",
      { "data-content-id": item.id },
      h("h3", {}, item.title),
      h("p", { class: "meta" }, h("span", { class: `badge ${item.status}` }, item.status), ` ${money(item.price_cents, item.currency)}${waiting}`),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => form.edit(item), "aria-label": `Edit ${item.title}` }, "Edit"),
        !SETTLED.has(item.status) && !item.publish_requested ? publish : null,
        item.status === "published" ? h("a", { href: `#/content/${item.id}` }, "View") : null,
      ),
    );
  };

  const [fileField, file] = field("Video file", h("input", { type: "file", name: "video", accept: "video/*", required: true }));
  const sendButton = h("button", { type: "submit" }, "Upload");
  const sent = progressBar("Upload");
  const transcode = progressBar("Transcode");
  const stateLine = h("span", { class: "badge", id: "asset-state" }, "none yet");
  const uploadForm = h("form", { "aria-labelledby": "upload-title" }, fileField, sendButton);
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    sent.set(0, `Starting ${chosen.name}…`);
    transcode.set(0, "Starts when the upload completes.");
    stateLine.textContent = "none yet";
    stateLine.className = "badge";
    attempt(async () => {
      const upload = await uploadFile(chosen, (percent, words) => sent.set(percent, words));
      sent.set(100, `Stored and checked: ${upload.filename}`);
      form.useUpload(upload.id);
      say("Upload complete. Describe the video below while it transcodes.");
      sendButton.disabled = false;
      const asset = await followAsset(upload.id, transcode, stateLine, signal);
      if (asset) {
        say(`The video is ready: ${asset.renditions.map((r) => `${r.name} ${r.width}×${r.height}`).join(", ")}.`);
        await drawMine();
      }
    }, sendButton);
  });

  main.append(
    h(
      "section",
      {},
      h("h2", { id: "upload-title" }, "Upload a video"),
      uploadForm,
      sent.element,
      transcode.element,
      h("p", {}, "Video: ", stateLine),
    ),
    form.element,
    h("section", {}, h("h2", {}, "Your content"), mine, pager),
  );
  await drawMine();
  // Content changes on its own (processing → ready → published): look again every few seconds,
  // but not while the keyboard is inside the list, so that focus is never pulled from under a person.
  (async () => {
    while (!signal.aborted) {
      await sleep(3000);
      if (signal.aborted || document.activeElement?.closest("#my-content")) continue;
      await drawMine().catch(() => undefined);
    }
  })();
}
