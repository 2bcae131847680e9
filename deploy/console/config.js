// The console's settings. The page and every API share the gateway's origin; the payment is confirmed
// at Stripe's API from the page, as Stripe.js does at api.stripe.com. In development the gateway serves
// the Stripe stand-in under /stripe (compose and `make dev`); an absolute URL works too (the stand-in
// allows CORS from CORS_ORIGINS), e.g. "http://127.0.0.1:8011".
export const config = {
  stripeApiBase: "/stripe",
  // Stripe's test payment methods the stand-in knows; the first one is chosen by default.
  testCards: [
    { id: "pm_card_visa", label: "Visa ending 4242 (succeeds)" },
    { id: "pm_card_mastercard", label: "Mastercard ending 4444 (succeeds)" },
    { id: "pm_card_chargeDeclined", label: "Visa ending 0002 (declined)" },
  ],
};
