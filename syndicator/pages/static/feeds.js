// Copy buttons, and filtering and sorting the directory. Each control is hidden in the HTML
// and shown here, so a page without JavaScript offers only what works without it.
"use strict";
(function () {
  var status = document.querySelector("[data-status]");
  function say(text) {
    if (status) { status.textContent = text; }
  }

  if (navigator.clipboard) {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          say(button.dataset.copied);
        });
      });
    });
  }

  // An article image that cannot be loaded leaves its card without a hole.
  document.querySelectorAll(".items img").forEach(function (image) {
    function drop() { image.remove(); }
    if (image.complete && !image.naturalWidth) { drop(); }
    image.addEventListener("error", drop);
  });

  var tools = document.querySelector("[data-tools]");
  if (!tools) { return; }
  var filter = tools.querySelector("[data-filter]");
  var sort = tools.querySelector("[data-sort]");
  var lists = Array.prototype.slice.call(document.querySelectorAll("[data-list]"));
  var lang = document.documentElement.lang;
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var orders = {
    name: function (a, b) { return a.dataset.name.localeCompare(b.dataset.name, lang); },
    size: function (a, b) { return b.dataset.size - a.dataset.size || orders.name(a, b); },
    updated: function (a, b) {
      return (Date.parse(b.dataset.updated) || 0) - (Date.parse(a.dataset.updated) || 0) ||
        orders.name(a, b);
    }
  };

  function apply() {
    var wanted = fold(filter.value.trim());
    var shown = 0, total = 0;
    lists.forEach(function (list) {
      var rows = Array.prototype.slice.call(list.children);
      var visible = 0;
      rows.sort(orders[sort.value]).forEach(function (row) {
        row.hidden = fold(row.dataset.name).indexOf(wanted) < 0;
        visible += row.hidden ? 0 : 1;
        list.appendChild(row);
      });
      list.parentNode.querySelector("[data-none]").hidden = visible > 0;
      shown += visible;
      total += rows.length;
    });
    say(filter.dataset.shown.replace("{shown}", shown).replace("{total}", total));
  }

  tools.hidden = false;
  filter.addEventListener("input", apply);
  sort.addEventListener("change", apply);
}());
