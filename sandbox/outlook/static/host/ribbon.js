// The ribbon: the manifest's groups and controls on the message read surface, each a button
// with its label, supertip and 16/32 px icon. Commands need a selected message.

export class Ribbon {
  constructor(container, onCommand) {
    this.container = container;
    this.onCommand = onCommand;
    this.buttons = [];
  }

  render(manifest) {
    this.container.replaceChildren(...manifest.groups.map((group) => {
      const section = document.createElement("div");
      section.className = "ribbon-group";
      section.setAttribute("role", "group");
      section.setAttribute("aria-label", group.label);
      for (const control of group.controls) section.append(this.button(control));
      const label = document.createElement("span");
      label.className = "group-label";
      label.textContent = group.label;
      section.append(label);
      return section;
    }));
  }

  button(control) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.testid = "ribbon-button";
    button.dataset.controlId = control.id;
    button.dataset.action = control.action.type;
    button.title = [control.supertip?.title, control.supertip?.description || control.tooltip].filter(Boolean).join("\n");
    if (control.icons["16"] || control.icons["32"]) {
      const img = document.createElement("img");
      img.alt = "";
      img.src = control.icons["16"] || control.icons["32"];
      if (control.icons["16"] && control.icons["32"]) img.srcset = `${control.icons["16"]} 1x, ${control.icons["32"]} 2x`;
      button.append(img);
    }
    const label = document.createElement("span");
    label.textContent = control.label;
    button.append(label);
    button.disabled = true;
    button.addEventListener("click", () => this.onCommand(control, button));
    this.buttons.push(button);
    return button;
  }

  enable(hasItem) {
    for (const button of this.buttons) button.disabled = !hasItem || button.getAttribute("aria-busy") === "true";
  }

  busy(button, value) {
    button.setAttribute("aria-busy", String(value));
    button.disabled = value;
  }
}
