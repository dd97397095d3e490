// Mounts the journey canvas where the change page asks for it (#journey-canvas, data-url).
import React from "react";
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./canvas.css";
import App from "./App.jsx";

function mount() {
  const root = document.getElementById("journey-canvas");
  if (!root || root.dataset.mounted) return;
  root.dataset.mounted = "1";
  createRoot(root).render(<App url={root.dataset.url} />);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
