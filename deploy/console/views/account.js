// Sign up, log in, and the account page (who you are, your user id for an admin, logging out).
import { logIn, logOut, session, signUp } from "../api.js";
import { attempt, field, h, heading, say } from "../ui.js";

function credentials(withName) {
  const [emailField, email] = field("Email", h("input", { type: "email", name: "email", required: true, autocomplete: "email" }));
  const [passwordField, password] = field(
    "Password",
    h("input", {
      type: "password",
      name: "password",
      required: true,
      autocomplete: withName ? "new-password" : "current-password",
    }),
    withName ? "8 to 128 characters." : undefined,
  );
  const [nameField, name] = field("Display name", h("input", { type: "text", name: "display_name", required: true, autocomplete: "nickname" }));
  return { fields: withName ? [nameField, emailField, passwordField] : [emailField, passwordField], email, password, name };
}

export function showLogIn(main) {
  const form = credentials(false);
  const submit = h("button", { type: "submit" }, "Log in");
  const element = h("form", { "aria-labelledby": "page-title" }, ...form.fields, submit);
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const user = await logIn(form.email.value, form.password.value);
      say(`Logged in as ${user.display_name}.`);
      location.hash = user.role === "customer" ? "#/" : "#/studio";
    }, submit);
  });
  main.append(
    heading("Log in"),
    h("section", {}, element),
    h("p", {}, "No account yet? ", h("a", { href: "#/signup" }, "Sign up")),
  );
}

export function showSignUp(main) {
  const form = credentials(true);
  const submit = h("button", { type: "submit" }, "Create the account");
  const element = h("form", { "aria-labelledby": "page-title" }, ...form.fields, submit);
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const accepted = await signUp(form.email.value, form.password.value, form.name.value);
      say(accepted?.detail || "Account created.");
      // Where the suite asks for a confirmed address first, logging in says so (shown in words).
      const user = await logIn(form.email.value, form.password.value);
      say(`Welcome, ${user.display_name}.`);
      location.hash = "#/";
    }, submit);
  });
  main.append(
    heading("Sign up"),
    h("section", {}, element),
    h("p", {}, "Already have an account? ", h("a", { href: "#/login" }, "Log in")),
  );
}

export function showAccount(main) {
  main.append(heading("Your account"));
  const user = session.user;
  if (!user) {
    main.append(h("p", {}, h("a", { href: "#/login" }, "Log in"), " to see your account."));
    return;
  }
  const out = h("button", { type: "button" }, "Log out");
  out.addEventListener("click", () =>
    attempt(async () => {
      await logOut();
      location.hash = "#/login";
    }, out),
  );
  main.append(
    h(
      "section",
      {},
      h(
        "dl",
        {},
        h("dt", {}, "Name"), h("dd", {}, user.display_name),
        h("dt", {}, "Email"), h("dd", {}, user.email, user.email_verified ? " (confirmed)" : " (not confirmed)"),
        h("dt", {}, "Role"), h("dd", { id: "my-role" }, user.role),
        h("dt", {}, "User id"), h("dd", { id: "my-user-id", class: "id" }, user.id),
      ),
      h("p", { class: "hint" }, "To upload videos, ask an admin to make you a creator (give them your user id), then reload this page."),
      h("div", { class: "actions" }, out),
    ),
  );
}
