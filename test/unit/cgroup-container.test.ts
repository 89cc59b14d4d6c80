/** Container ids and systemd units from cgroup v2 paths, in the shapes the runtimes really make. */
import { describe, expect, it } from 'vitest';
import { cgroupUnder, containerOf, ownerGroupOf, unitMatches, unitOf } from '../../src/enrich/container.js';

const ID = '3f2a9c1b7d8e4f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718';
const ID2 = 'c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc';
const POD = 'kubepods-burstable-pod8f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice';

describe('containerOf', () => {
  it.each([
    ['docker, systemd driver', `/system.slice/docker-${ID}.scope`],
    ['docker, cgroupfs driver', `/docker/${ID}`],
    ['docker rootless', `/user.slice/user-1000.slice/user@1000.service/docker-${ID}.scope`],
    ['containerd CRI, systemd driver', `/kubepods.slice/kubepods-burstable.slice/${POD}/cri-containerd-${ID}.scope`],
    ['kubelet cgroupfs driver', `/kubepods/burstable/pod8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/${ID}`],
    ['kubernetes with dockershim', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/docker-${ID}.scope`],
    ['CRI-O', `/kubepods.slice/kubepods-burstable.slice/${POD}/crio-${ID}.scope`],
    ['podman, systemd', `/machine.slice/libpod-${ID}.scope`],
    ['podman with a systemd container inside', `/machine.slice/libpod-${ID}.scope/container`],
    ['podman rootless', `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`],
    ['podman, cgroupfs', `/libpod_parent/libpod-${ID}`],
    ['containerd namespace, cgroupfs (nerdctl)', `/default/${ID}`],
    ['a process in a sub-cgroup of the container', `/system.slice/docker-${ID}.scope/init.scope`],
  ])('%s', (_, path) => {
    expect(containerOf(path)).toBe(ID);
  });

  it('the innermost container wins (kind: a pod container inside a docker node)', () => {
    expect(containerOf(`/system.slice/docker-${ID2}.scope/kubelet.slice/kubelet-kubepods.slice/${POD}/cri-containerd-${ID}.scope`)).toBe(ID);
  });

  it.each([
    ['a systemd service', '/system.slice/nginx.service'],
    ['a login session', '/user.slice/user-1000.slice/session-3.scope'],
    ['the root', '/'],
    ['a pod slice (no container yet)', `/kubepods.slice/kubepods-burstable.slice/${POD}`],
    ['CRI-O\'s conmon monitor', `/system.slice/crio-conmon-${ID}.scope`],
    ['podman\'s conmon monitor', `/machine.slice/libpod-conmon-${ID}.scope`],
    ['a short hex name', '/docker/3f2a9c1b7d8e'],
    ['upper-case hex', `/docker/${ID.toUpperCase()}`],
    ['no cgroup', null],
  ])('none for %s', (_, path) => {
    expect(containerOf(path)).toBeNull();
  });
});

describe('unitOf and unitMatches', () => {
  it('the unit is the last .service or .scope component', () => {
    expect(unitOf('/system.slice/nginx.service')).toBe('nginx.service');
    expect(unitOf('/system.slice/nginx.service/worker')).toBe('nginx.service'); // a delegated sub-cgroup
    expect(unitOf('/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope')).toBe('app-gnome-firefox-1234.scope');
    expect(unitOf(`/system.slice/docker-${ID}.scope`)).toBe(`docker-${ID}.scope`);
    expect(unitOf('/system.slice')).toBeNull();
    expect(unitOf('/')).toBeNull();
    expect(unitOf(null)).toBeNull();
  });
  it('a name without a suffix matches NAME.service and NAME.scope; with one, only itself', () => {
    expect(unitMatches('nginx.service', 'nginx')).toBe(true);
    expect(unitMatches('nginx.scope', 'nginx')).toBe(true);
    expect(unitMatches('nginx.service', 'nginx.service')).toBe(true);
    expect(unitMatches('nginx.service', 'nginx.scope')).toBe(false);
    expect(unitMatches('nginx-proxy.service', 'nginx')).toBe(false);
    expect(unitMatches(null, 'nginx')).toBe(false);
  });
});

describe('cgroupUnder', () => {
  it('matches the path and its descendants by whole components', () => {
    expect(cgroupUnder('/kubepods.slice/a/b', '/kubepods.slice')).toBe(true);
    expect(cgroupUnder('/kubepods.slice', '/kubepods.slice')).toBe(true);
    expect(cgroupUnder('/kubepods.slice2', '/kubepods.slice')).toBe(false);
    expect(cgroupUnder('/anything', '/')).toBe(true);
    expect(cgroupUnder(null, '/')).toBe(false);
  });
});

describe('ownerGroupOf', () => {
  it('a container, else a unit, else none; the same object for the same path', () => {
    expect(ownerGroupOf(`/system.slice/docker-${ID}.scope`)).toEqual({ key: `c:${ID}`, container: ID, unit: null });
    expect(ownerGroupOf('/system.slice/nginx.service/worker')).toEqual({ key: 'u:nginx.service', container: null, unit: 'nginx.service' });
    expect(ownerGroupOf('/system.slice')).toBeNull();
    expect(ownerGroupOf(null)).toBeNull();
    expect(ownerGroupOf('/system.slice/nginx.service')).toBe(ownerGroupOf('/system.slice/nginx.service'));
  });
});
