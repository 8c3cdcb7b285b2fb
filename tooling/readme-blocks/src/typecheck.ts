import ts from 'typescript';

/** The two ways a user's TypeScript resolves packages that the README blocks must compile under. */
export type Resolution = 'node16' | 'bundler';

/** Compiler options of a strict user project: `strict`, `exactOptionalPropertyTypes`, Node types. */
export function userOptions(resolution: Resolution): ts.CompilerOptions {
  return {
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    // Third-party declarations are not what is tested here; the packages' own are, by attw.
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2023,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    esModuleInterop: true,
    allowJs: true,
    checkJs: true,
    ...(resolution === 'node16'
      ? { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }
      : { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }),
  };
}

/** One compiler message, positioned in the checked file (0-based line). */
export interface Problem {
  line: number;
  column: number;
  text: string;
}

/**
 * Type-checks `files` (absolute paths) in one program and returns each file's problems, plus
 * those not tied to a file under the key `''`.
 */
export function typecheck(files: string[], resolution: Resolution): Map<string, Problem[]> {
  const options = userOptions(resolution);
  const program = ts.createProgram({
    rootNames: files,
    options,
    host: ts.createCompilerHost(options),
  });
  const found = new Map<string, Problem[]>(files.map((file) => [file, []]));
  const general = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  found.set(
    '',
    general.map((d) => ({ line: 0, column: 0, text: `TS${d.code} ${flatten(d)}` })),
  );
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) {
      found.get(file)!.push({ line: 0, column: 0, text: 'not part of the program' });
      continue;
    }
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    for (const d of diagnostics) {
      const at = source.getLineAndCharacterOfPosition(d.start ?? 0);
      found
        .get(file)!
        .push({ line: at.line, column: at.character, text: `TS${d.code} ${flatten(d)}` });
    }
  }
  return found;
}

function flatten(d: ts.Diagnostic): string {
  return ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
}
