import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  index: 'src/index.ts',
  undici: 'src/undici.ts',
  lease: 'src/lease/index.ts',
});
