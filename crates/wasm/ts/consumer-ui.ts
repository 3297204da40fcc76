// A portal's use of the embed entry `defender-tags-wasm/ui`, compiled with `tsc --noEmit` by
// `cargo xtask package` under node10, node16 and bundler module resolution. It fails to compile if
// the entry stops resolving, or a signature loses its types.
import init, {
  mountTagEditor,
  mountTagManager,
  mountedComponents,
  type EmbedHandle,
  type EditorOptions,
  type MountOptions,
  type TokenRequestInfo,
} from "defender-tags-wasm/ui";

declare const portalToken: (scopes: string[], force: boolean) => Promise<string>;

export async function embed(editorHost: HTMLElement, managerHost: HTMLElement): Promise<boolean> {
  await init();
  const options: MountOptions = {
    baseUrl: "https://portal.contoso.com/defender/",
    getToken: ({ scopes, forceRefresh }: TokenRequestInfo) => portalToken(scopes, forceRefresh),
  };
  const editorOptions: EditorOptions = { ...options, machineId: "1e5bc9d7e413ddd7902c2932e418702b84d0cc07" };
  const editor: EmbedHandle = await mountTagEditor(editorHost, editorOptions);
  // The handle may be dropped: the manager stays until its element leaves the page.
  await mountTagManager(managerHost, { ...options, permissions: ["Machine.Read"], user: { name: "Ann", username: "ann@contoso.com" } });
  const count: number = mountedComponents();
  const before: boolean = editor.mounted;
  editor.unmount();
  return before && count === 2 && !editor.mounted;
}
