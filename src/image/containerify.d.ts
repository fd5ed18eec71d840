// containerify (npm) ships no types; these describe the parts of its lib/ modules src/image uses (4.1.0).
declare module 'containerify/lib/registry.js' {
  export interface Registry {
    upload(image: string, folder: string, doCrossMount: boolean, originalManifest: unknown, originalRepository: string | undefined, additionalTags?: string[]): Promise<void>;
  }
  /** `registryBaseUrl` ends with /v2/; `auth` is a whole Authorization header value ("Basic …") or empty. */
  export function createRegistry(registryBaseUrl: string, imagePath: string, allowInsecure: 0 | 1, auth: string | undefined, optimisticToRegistryCheck?: boolean): Promise<Registry>;
}

declare module 'containerify/lib/appLayerCreator.js' {
  const module: {
    default: {
      /** Copies the base in `fromdir` (manifest.json, config.json, layers) to `todir` with the new layers, config and manifest. */
      addLayers(tmpdir: string, fromdir: string, todir: string, options: Record<string, unknown>): Promise<{ mediaType: string; digest: string; size: number }>;
    };
  };
  export default module;
}

declare module 'containerify/lib/logger.js' {
  type Log = (...message: unknown[]) => void;
  const module: { default: { info: Log; error: Log; debug: Log } };
  export default module;
}
