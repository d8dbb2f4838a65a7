import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { argocdFixturesDir } from './fixtures.js';

// Runs Argo CD's built-in IstioOperator health check (reference/argocd/health.lua) on an object, in a pure-JS
// Lua VM, exactly as Argo would: a global `obj` built from the object's JSON, and the script's returned table.
const require = createRequire(import.meta.url);
const fengari = require('fengari');
const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;

export interface ArgoHealth {
  status: string;
  message: string;
}

export const HEALTH_LUA = path.join(argocdFixturesDir, 'health.lua');

function push(L: any, v: unknown): void {
  if (v === null || v === undefined) lua.lua_pushnil(L);
  else if (typeof v === 'boolean') lua.lua_pushboolean(L, v);
  else if (typeof v === 'number') lua.lua_pushnumber(L, v);
  else if (typeof v === 'string') lua.lua_pushstring(L, to_luastring(v));
  else if (Array.isArray(v)) {
    lua.lua_createtable(L, v.length, 0);
    v.forEach((x, i) => {
      push(L, x);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else {
    lua.lua_createtable(L, 0, 0);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined || x === null) continue;
      push(L, x);
      lua.lua_setfield(L, -2, to_luastring(k));
    }
  }
}

function field(L: any, idx: number, name: string): string {
  lua.lua_getfield(L, idx, to_luastring(name));
  const s = lua.lua_isstring(L, -1) ? to_jsstring(lua.lua_tostring(L, -1)) : '';
  lua.lua_pop(L, 1);
  return s;
}

export function argoHealth(obj: unknown, script = fs.readFileSync(HEALTH_LUA, 'utf8')): ArgoHealth {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  push(L, obj);
  lua.lua_setglobal(L, to_luastring('obj'));
  if (lauxlib.luaL_dostring(L, to_luastring(script)) !== lua.LUA_OK) {
    throw new Error(`health.lua failed: ${to_jsstring(lua.lua_tostring(L, -1))}`);
  }
  if (!lua.lua_istable(L, -1)) throw new Error('health.lua did not return a table');
  return { status: field(L, -1, 'status'), message: field(L, -1, 'message') };
}
