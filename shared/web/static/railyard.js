// Railyard's only hand-written script: drag and drop on top of the up/down buttons,
// which work without it, a count of what a long text box still takes, and the current
// page kept in sight in a phone's sideways-scrolling row of pages. Everything
// else is htmx attributes in the pages.
(function () {
  "use strict";

  function enableRanking(list) {
    if (list.dataset.dndReady) return;
    list.dataset.dndReady = "1";
    var form = document.getElementById(list.dataset.orderForm);
    if (!form) return;
    var dragged = null;
    list.querySelectorAll("li[data-id]").forEach(function (item) {
      item.setAttribute("draggable", "true");
      item.addEventListener("dragstart", function (event) {
        dragged = item;
        item.classList.add("dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", item.dataset.id);
      });
      item.addEventListener("dragend", function () {
        item.classList.remove("dragging");
        dragged = null;
      });
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) return;
      event.preventDefault();
      var after = null;
      list.querySelectorAll("li[data-id]:not(.dragging)").forEach(function (other) {
        var box = other.getBoundingClientRect();
        if (after === null && event.clientY < box.top + box.height / 2) after = other;
      });
      if (after === null) list.appendChild(dragged);
      else list.insertBefore(dragged, after);
    });
    list.addEventListener("drop", function (event) {
      event.preventDefault();
      form.querySelectorAll("input[name='order']").forEach(function (input) { input.remove(); });
      list.querySelectorAll("li[data-id]").forEach(function (item) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "order";
        input.value = item.dataset.id;
        form.appendChild(input);
      });
      form.requestSubmit();
    });
  }

  // A form marked data-once cannot be sent twice by a double click.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-once]")) return;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });

  // A text box with a limit says how much of it is used once most of it is: a pasted
  // text longer than the limit is cut by the browser without a word otherwise.
  function countCharacters(box) {
    if (box.dataset.counted) return;
    box.dataset.counted = "1";
    var most = parseInt(box.getAttribute("maxlength"), 10);
    var counter = document.createElement("small");
    counter.className = "counter";
    counter.setAttribute("aria-live", "polite");
    box.insertAdjacentElement("afterend", counter);
    function update() {
      var used = box.value.length;
      counter.hidden = used < most * 0.8;
      counter.classList.toggle("full", used >= most);
      counter.textContent = used.toLocaleString() + " of " + most.toLocaleString() +
        " characters" + (used >= most ? ": the limit; anything beyond it was left out" : "");
    }
    box.addEventListener("input", update);
    update();
  }

  function init(root) {
    (root || document).querySelectorAll("ol.ranking[data-order-form]").forEach(enableRanking);
    (root || document).querySelectorAll("textarea[maxlength]").forEach(countCharacters);
  }

  // On a phone the pages' row scrolls sideways: the current page is brought into sight.
  function showCurrentPage() {
    var current = document.querySelector(".mainnav a[aria-current='page']");
    var nav = current && current.parentElement;
    if (nav && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
    }
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); showCurrentPage(); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
