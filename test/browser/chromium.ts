// Headless Chromium for the browser tests: Debian's /usr/bin/chromium (installed by
// .ci/install-chromium.sh) driven by playwright-core, which downloads no browser of its own.
// Under CI a missing browser fails; elsewhere the tests skip and say why.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { isCI } from '../helpers/shared.js';

export const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The flags that work here (Chromium 156, no GPU): --enable-unsafe-webgpu gives navigator.gpu a
 * SwiftShader (Vulkan-on-CPU) fallback adapter in headless mode; --use-webgpu-adapter=swiftshader
 * and --enable-features=Vulkan change nothing. The rest keep Chromium off the network (which a
 * closed machine refuses, slowly) and let it run as root.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Why the browser tests cannot run here (undefined: they can); under CI a missing browser throws. */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM} (install it with .ci/install-chromium.sh, or set TESSERA_CHROMIUM)`;
  if (isCI()) throw new Error(`CI needs Chromium for the browser tests: ${why}`);
  console.warn(`[tessera tests] SKIPPING the browser tests: ${why}`);
  return why;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
