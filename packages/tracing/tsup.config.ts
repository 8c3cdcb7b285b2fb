import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  index: 'src/index.ts',
  register: 'src/register.ts',
  testing: 'src/testing.ts',
});
