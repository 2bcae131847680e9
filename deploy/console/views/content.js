// One piece of content: its details; for a customer who has not bought it, paying with a Stripe test
// card (confirmed from the page, as Stripe.js does); for whoever may watch, the player.
import { ApiError, api, isTransient, send, session } from "../api.js";
import { config } from "../config.js";
import { attempt, field, h, heading, money, say, sleep } from "../ui.js";

async function until(check, seconds, signal, words) {
  const deadline = Date.now() + seconds * 1000;
  while (!signal.aborted && Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (!isTransient(error)) throw error;
      say(`${error.message}; asking again…`);
    }
    await sleep(700);
  }
  if (!signal.aborted) throw new Error(words);
  return null;
}

/** Confirm the PaymentIntent at Stripe with the publishable key and the client secret (what Stripe.js does). */
async function confirmPayment(started, card) {
  const intent = started.client_secret.split("_secret_")[0];
  const answer = await send(`${config.stripeApiBase}/v1/payment_intents/${intent}/confirm`, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${started.publishable_key}:`)}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: card, client_secret: started.client_secret }),
  });
  const body = await answer.json().catch(() => null);
  if (!answer.ok) throw new ApiError(answer.status, body, `The payment did not go through: ${body?.error?.message || answer.statusText}`);
  if (body.status !== "succeeded" && body.status !== "processing") {
    throw new ApiError(answer.status, body, `The payment is ${body.status.replaceAll("_", " ")}.`);
  }
  return body;
}

function drawBuy(area, item, signal, onPaid) {
  const [cardField, card] = field(
    "Test card",
    h("select", { name: "card" }, config.testCards.map((c) => h("option", { value: c.id }, c.label))),
    "The Stripe stand-in's test payment methods; no real card is charged.",
  );
  const pay = h("button", { type: "submit" }, `Pay ${money(item.price_cents, item.currency)}`);
  const form = h("form", { "aria-labelledby": "buy-title" }, cardField, pay);
  let started = null; // a declined card may be followed by another on the same PaymentIntent
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      if (!started) {
        // The purchase service hears the price from catalog's event; just after publishing it may
        // not have it yet (409): try again for a little while, saying so.
        started = await until(
          async () => {
            try {
              return await api("/purchases", { method: "POST", body: { content_id: item.id } });
            } catch (error) {
              if (error.status !== 409) throw error;
              say(`${error.message} Trying again…`);
              return null;
            }
          },
          20,
          signal,
          "The shop could not start this purchase; try again in a minute.",
        );
      }
      say("Confirming the payment with Stripe…");
      await confirmPayment(started, card.value);
      say("Paid. Waiting for the purchase to complete…");
      await until(
        async () => {
          // A declined card leaves the purchase "failed" until Stripe's next event: after a payment
          // that went through, only "completed" (or a canceled purchase) ends the wait.
          const purchase = await api(`/purchases/${started.purchase_id}`);
          if (purchase.status === "canceled") throw new Error("The purchase was canceled.");
          return purchase.status === "completed";
        },
        60,
        signal,
        "The payment went through but the purchase has not completed yet; reload in a moment.",
      );
      say("Purchase complete. Opening the player…");
      await onPaid();
    }, pay);
  });
  area.replaceChildren(h("h2", { id: "buy-title" }, "Buy"), h("p", {}, `Watch “${item.title}” for ${money(item.price_cents, item.currency)}.`), form);
}

function drawPlayer(area, item, playback) {
  const renditions = [...playback.renditions].sort((a, b) => b.height - a.height);
  const preferred = renditions.find((r) => r.name === "720p") || renditions[0];
  const video = h("video", { id: "player", controls: true, playsinline: true, preload: "metadata", "aria-label": `Video: ${item.title}` });
  if (playback.thumbnail_url) video.poster = playback.thumbnail_url;
  video.src = preferred.url;
  const [qualityField, quality] = field(
    "Quality",
    h("select", { name: "rendition", id: "rendition" }, renditions.map((r) => h("option", { value: r.name }, `${r.name} (${r.width}×${r.height}, ${(r.bitrate / 1e6).toFixed(1)} Mbit/s)`))),
  );
  quality.value = preferred.name;
  quality.addEventListener("change", () => {
    // Keep the place and the play state when the rendition changes.
    const at = video.currentTime;
    const playing = !video.paused;
    video.src = renditions.find((r) => r.name === quality.value).url;
    video.addEventListener(
      "loadedmetadata",
      () => {
        video.currentTime = at;
        if (playing) video.play().catch(() => undefined);
      },
      { once: true },
    );
  });
  video.addEventListener("error", () => {
    const code = video.error?.code;
    say(`The video could not be played (media error ${code}: ${video.error?.message || "the link may have expired; reload the page"}).`);
  });
  area.replaceChildren(
    h("h2", { id: "watch-title" }, "Watch"),
    video,
    qualityField,
    h("p", { class: "meta" }, `Links valid until ${new Date(playback.expires_at).toLocaleTimeString()}.`),
  );
}

async function drawWatch(area, item, signal) {
  if (!session.user) {
    area.replaceChildren(h("p", {}, h("a", { href: "#/login" }, "Log in"), " or ", h("a", { href: "#/signup" }, "sign up"), " to buy and watch."));
    return;
  }
  try {
    drawPlayer(area, item, await api(`/content/${item.id}/playback`));
  } catch (error) {
    if (error.status === 403) {
      drawBuy(area, item, signal, async () => {
        // Access reaches catalog through an event: ask until playback answers.
        const playback = await until(
          () => api(`/content/${item.id}/playback`).catch((e) => (e.status === 403 ? null : Promise.reject(e))),
          60,
          signal,
          "The purchase is complete but access has not arrived yet; reload in a moment.",
        );
        if (playback) drawPlayer(area, item, playback);
      });
    } else if (error.status === 409) {
      area.replaceChildren(h("p", {}, error.message));
    } else {
      throw error;
    }
  }
}

export async function show(main, { arg, signal }) {
  const item = await api(`/content/${encodeURIComponent(arg)}`);
  const area = h("section", { id: "watch", "aria-live": "polite" });
  main.append(
    heading(item.title),
    h(
      "section",
      {},
      h(
        "dl",
        {},
        h("dt", {}, "By"), h("dd", {}, item.creator_name || "a creator"),
        h("dt", {}, "Price"), h("dd", {}, money(item.price_cents, item.currency)),
        item.duration_s ? [h("dt", {}, "Length"), h("dd", {}, `${Math.round(item.duration_s)} s`)] : null,
        h("dt", {}, "Status"), h("dd", {}, item.status),
      ),
      item.description ? h("p", {}, item.description) : null,
    ),
    area,
  );
  await drawWatch(area, item, signal);
}
