import { defineConfig } from "vite";

// The gateway serves dist/ at its root (gateway/gateway/portal.py); `npm run dev` proxies the
// API to a running `make run`.
export default defineConfig({
  base: "/",
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: Object.fromEntries(
      ["/identity", "/booking", "/documents", "/.well-known"].map((p) => [p, "http://127.0.0.1:8000"]),
    ),
  },
});
