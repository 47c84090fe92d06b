// The card checkout: Stripe.js confirms the SetupIntent with the card the member types
// (the number goes to Stripe only), then the form posts the SetupIntent's id to us.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount(document.getElementById("card-element"));
  var error = document.getElementById("card-error");
  var pay = document.getElementById("card-pay");
  var confirmed = false;

  form.addEventListener("submit", function (event) {
    if (confirmed) { return; }
    event.preventDefault();
    pay.disabled = true;
    error.hidden = true;
    stripe.confirmCardSetup(form.dataset.clientSecret, { payment_method: { card: card } }).then(function (result) {
      if (result.error) {
        error.textContent = result.error.message || "Your card was refused.";
        error.hidden = false;
        pay.disabled = false;
        return;
      }
      confirmed = true;
      form.submit();
    });
  });
})();
