// The console's settings: the one file to edit where the Stripe stand-in is elsewhere.
// The page and every API share the gateway's origin; only the payment confirmation goes to Stripe's API
// (as Stripe.js calls api.stripe.com), here the local stand-in of `make dev` (CORS_ORIGINS lets the page in).
export const config = {
  stripeApiBase: "http://127.0.0.1:8011",
  // Stripe's test payment methods the stand-in knows; the first one is chosen by default.
  testCards: [
    { id: "pm_card_visa", label: "Visa ending 4242 (succeeds)" },
    { id: "pm_card_mastercard", label: "Mastercard ending 4444 (succeeds)" },
    { id: "pm_card_chargeDeclined", label: "Visa ending 0002 (declined)" },
  ],
};
